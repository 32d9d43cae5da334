import { existsSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isSecretMarker, RecordedResource } from "../../scripts/mock-engine";
import { runStack, secretLeaks, StackView } from "./stack-run";

const CONTAINER = "docker:index/container:Container";
const NETWORK = "docker:index/network:Network";

let dev: StackView;
beforeAll(async () => {
  dev = await runStack("dev");
});

function label(container: RecordedResource, key: string): string | undefined {
  const labels = dev.revealed(container).labels as { label: string; value: string }[] | undefined;
  return labels?.find((l) => l.label === key)?.value;
}

function zonesOf(container: RecordedResource): string[] {
  const networks = dev.revealed(container).networksAdvanced as { name: string }[];
  return networks.map((n) => n.name.replace(/^dev-/, "")).sort();
}

const DATA_WORKLOADS = ["postgres", "pgbouncer", "redis", "mongo", "rabbitmq", "minio"];

describe("dev stack on Docker", () => {
  it("runs every data service as a container with a healthcheck, memory and CPU limits", () => {
    for (const name of DATA_WORKLOADS) {
      const container = dev.one(CONTAINER, name);
      const inputs = dev.revealed(container);
      const healthcheck = inputs.healthcheck as { tests: string[]; startPeriod: string; retries: number };
      expect(healthcheck.tests.length, name).toBeGreaterThan(1);
      // Go's duration form, as the provider reads it back ("5m0s", not "300s").
      expect(healthcheck.startPeriod, name).toMatch(/^(\d+h)?(\d+m)?\d+s$/);
      expect(inputs.memory, name).toBeGreaterThan(0);
      expect(inputs.memorySwap, name).toBe(inputs.memory);
      expect(Number(inputs.cpus), name).toBeGreaterThan(0);
      expect(inputs.restart, name).toBe("unless-stopped");
      expect(inputs.stopTimeout, name).toBeGreaterThan(0);
    }
  });

  it("keeps data services in backend only and exporters in backend and monitoring", () => {
    // RabbitMQ, MinIO and Consul serve their own metrics, so they join monitoring for the scrape
    // (Consul also for the gateway, which reads its catalogue and routes its UI there).
    const selfMonitored = ["rabbitmq", "minio", "consul"];
    const HOST_EXPORTERS = ["node-exporter", "cadvisor"];
    for (const container of dev.all(CONTAINER)) {
      const role = label(container, "fundament.role");
      // A files carrier is never started and joins no network.
      if (dev.revealed(container).start === false) {
        expect(dev.revealed(container).networkMode, container.name).toBe("none");
        continue;
      }
      if (role === "data") expect(zonesOf(container), container.name).toEqual(selfMonitored.includes(container.name) ? ["backend", "monitoring"] : ["backend"]);
      // A data server's exporter sits beside it in backend; the host exporters report on the host, not on a server.
      if (role === "exporter") expect(zonesOf(container), container.name).toEqual(HOST_EXPORTERS.includes(container.name) ? ["monitoring"] : ["backend", "monitoring"]);
    }
    const exporters = dev.all(CONTAINER).filter((c) => label(c, "fundament.role") === "exporter").map((c) => c.name);
    expect(exporters).toEqual(expect.arrayContaining(["postgres-exporter", "pgbouncer-exporter", "redis-exporter", "mongo-exporter"]));
  });

  it("makes backend and monitoring internal networks and frontend the only one with a route out", () => {
    const networks = Object.fromEntries(dev.all(NETWORK).map((n) => [dev.revealed(n).name, dev.revealed(n).internal]));
    expect(networks).toEqual({ "dev-frontend": false, "dev-backend": true, "dev-monitoring": true });
  });

  it("publishes no data port, and binds anything published to loopback", () => {
    for (const container of dev.all(CONTAINER)) {
      const ports = (dev.revealed(container).ports ?? []) as { ip: string }[];
      if (label(container, "fundament.role") === "data") expect(ports, container.name).toEqual([]);
      for (const port of ports) expect(port.ip, container.name).toBe("127.0.0.1");
    }
  });

  it("hardens every container: no privilege, no new privileges, all capabilities dropped first", () => {
    for (const container of dev.all(CONTAINER)) {
      const inputs = dev.revealed(container);
      expect(inputs.privileged, container.name).toBe(false);
      expect(inputs.securityOpts, container.name).toContain("no-new-privileges:true");
      expect((inputs.capabilities as { drops: string[] }).drops, container.name).toEqual(["ALL"]);
    }
  });

  it("delivers secrets as secret files and never as a plain value anywhere", () => {
    expect(dev.generatedSecrets.size).toBeGreaterThan(5);
    expect(secretLeaks(dev)).toEqual([]);
    for (const container of dev.all(CONTAINER)) {
      const envs = (dev.revealed(container).envs ?? []) as string[];
      for (const entry of envs) expect(entry, container.name).not.toMatch(/^[A-Z_]*(PASSWORD|PASS|SECRET|TOKEN)=/);
    }
    const postgres = dev.revealed(dev.one(CONTAINER, "postgres"));
    expect((postgres.envs as string[]).some((e) => e.startsWith("POSTGRES_PASSWORD_FILE="))).toBe(true);
    expect(postgres.shmSize).toBeGreaterThan(64);
  });

  it("gives every consuming service its connection, with the password as a secret output", () => {
    // The whole map is secret because each connection carries a password.
    const databases = dev.outputs.databases as { value: Record<string, { host: string; port: number; password: string }> };
    expect(isSecretMarker(databases)).toBe(true);
    expect(Object.keys(databases.value).sort()).toEqual(["config", "gpu-jobs", "users"]);
    for (const connection of Object.values(databases.value)) {
      expect(connection).toMatchObject({ host: "pgbouncer", port: 6432 });
      expect(dev.generatedSecrets.has(connection.password)).toBe(true);
    }
    const admin = dev.outputs.usersBootstrapAdmin as { password?: unknown };
    expect(isSecretMarker(admin) || isSecretMarker(admin.password)).toBe(true);
  });

  it("copies finished backups to the backups bucket from the backup job's volume, read-only", () => {
    const upload = dev.revealed(dev.one(CONTAINER, "postgres-backup-upload"));
    const backup = dev.revealed(dev.one(CONTAINER, "postgres-backup"));
    const backupVolume = (backup.volumes as { volumeName: string }[])[0].volumeName;
    expect(upload.volumes).toContainEqual({ volumeName: backupVolume, containerPath: "/backup-volume", readOnly: true });
    // Everything else it mounts carries its files, read-only too.
    for (const volume of upload.volumes as { readOnly: boolean }[]) expect(volume.readOnly).toBe(true);
    expect(upload.envs).toEqual(expect.arrayContaining(["S3_ENDPOINT=http://minio:9000"]));
    expect(zonesOf(dev.one(CONTAINER, "postgres-backup-upload"))).toEqual(["backend"]);
  });

  it("heads every rendered file it delivers with the source file that renders it, so an operator on the host can find it", () => {
    type Upload = { file: string; content?: string };
    const headers: string[] = [];
    for (const container of dev.all(CONTAINER)) {
      for (const upload of (dev.revealed(container).uploads as Upload[] | undefined) ?? []) {
        const source = /Rendered by fundament \(([^)]+)\)/.exec(upload.content ?? "")?.[1];
        if (!source) continue;
        headers.push(source);
        expect(existsSync(source) && readFileSync(source, "utf8").includes(`Rendered by fundament (${source})`), `${container.name} ${upload.file} names ${source}`).toBe(true);
      }
    }
    // postgresql.conf, pg_hba.conf, pgbouncer.ini, redis.conf, mongod.conf, the backup scripts, Traefik's and the monitoring files at least.
    expect(new Set(headers).size).toBeGreaterThanOrEqual(10);
  });

  it("parents every resource under a fundament component", () => {
    for (const resource of dev.resources.filter((r) => !r.type.startsWith("pulumi:") && r.type !== "fundament:index:Platform")) {
      expect(dev.parentOf(resource)?.type, `${resource.type} ${resource.name}`).toMatch(/^fundament:/);
    }
  });
});

describe("services on the dev stack", () => {
  it.each(["users", "config"])("runs %s from its locally built image, in frontend, backend and monitoring, hardened", (service) => {
    const container = dev.one(CONTAINER, service);
    const inputs = dev.revealed(container);
    expect(zonesOf(container)).toEqual(["backend", "frontend", "monitoring"]);
    expect(inputs.readOnly).toBe(true);
    expect(inputs.user).toBe("1000:1000");
    expect(inputs.entrypoints).toEqual(["node", `services/${service}/dist/server.js`]);
    const build = dev.one("docker:index/image:Image", `${service}-image-build`);
    expect((dev.revealed(build).build as { dockerfile: string }).dockerfile).toMatch(new RegExp(`services/${service}/Dockerfile$`));
    expect(dev.revealed(build).skipPush).toBe(true);
  });

  it.each(["users", "config"])("hands %s its credentials only as secret files named by *_FILE variables", (service) => {
    const container = dev.one(CONTAINER, service);
    const envs = dev.revealed(container).envs as string[];
    const fileVariables = envs.filter((e) => /_FILE=\/run\/secrets\//.test(e)).map((e) => e.split("=")[1]);
    expect(fileVariables).toEqual(expect.arrayContaining(["/run/secrets/database-password", "/run/secrets/redis-password", "/run/secrets/amqp-password"]));
    // Its root is read-only, so the files reach it through volumes its never-started carrier fills.
    const carrier = dev.one(CONTAINER, `${service}-files`);
    expect(isSecretMarker(carrier.inputs.uploads)).toBe(true);
    const uploads = dev.revealed(carrier).uploads as { file: string; permissions: string }[];
    for (const path of fileVariables) expect(uploads.find((u) => u.file === path)?.permissions).toBe("0400");
    expect(envs.some((e) => e.startsWith("DATABASE_URL=postgres://") && !e.includes(":@") && e.includes("@pgbouncer:6432/"))).toBe(true);
  });

  it("delivers the platform leaf to PostgreSQL and PgBouncer, and the same CA to every PostgreSQL client, keys only in secret uploads", () => {
    type Upload = { file: string; content: string; permissions: string; owner?: string };
    // A read-only container takes its files through its never-started carrier.
    const uploadOf = (container: string, file: string): Upload => {
      for (const name of [container, `${container}-files`]) {
        const found = dev.all(CONTAINER).find((c) => c.name === name && ((dev.revealed(c).uploads as Upload[] | undefined) ?? []).some((u) => u.file === file));
        if (found) {
          expect(isSecretMarker(found.inputs.uploads) || !file.endsWith(".key"), `${name} ${file}`).toBe(true);
          return (dev.revealed(found).uploads as Upload[]).find((u) => u.file === file)!;
        }
      }
      throw new Error(`no upload ${file} for ${container}`);
    };
    // The mock engine leaves certificates' PEM unknown (tests/unit/pki-certificates.test.ts runs
    // real ones); what is checked here is who receives which file, and each leaf's names.
    const csr = (name: string) => dev.revealed(dev.one("tls:index/certRequest:CertRequest", `${name}-tls-csr`)).dnsNames;
    expect(csr("postgres")).toEqual(["postgres"]);
    expect(csr("pgbouncer")).toEqual(["pgbouncer"]);
    expect(uploadOf("postgres", "/etc/postgresql/tls/ca.crt").permissions).toBe("0444");
    // PostgreSQL refuses a key with group or other access unless root owns it: the server's user, 0400.
    expect(uploadOf("postgres", "/etc/postgresql/tls/tls.key")).toMatchObject({ permissions: "0400", owner: "999" });
    expect(uploadOf("pgbouncer", "/etc/pgbouncer/tls/tls.key").permissions).toBe("0400");
    for (const [client, file] of [
      ["pgbouncer", "/etc/pgbouncer/tls/ca.crt"],
      ["postgres-exporter", "/etc/postgres-exporter/ca.crt"],
      ["pgbouncer-exporter", "/run/secrets/pgbouncer-exporter-ca.crt"],
      ["postgres-backup", "/etc/fundament/postgres-ca.crt"],
    ]) {
      expect(uploadOf(client, file).permissions, client).toBe("0444");
    }
    for (const service of ["users", "config", "users-migrate", "config-migrate"]) {
      const envs = dev.revealed(dev.one(CONTAINER, service)).envs as string[];
      expect(envs, service).toContain("DATABASE_CA_FILE=/etc/fundament/tls/ca.crt");
      expect(envs.find((e) => e.startsWith("DATABASE_URL=")), service).toMatch(/\?sslmode=verify-full$/);
      expect(uploadOf(service, "/etc/fundament/tls/ca.crt").permissions, service).toBe("0444");
    }
  });

  it.each(["users", "config"])("serves %s over HTTPS with its own leaf, the key a 0400 secret upload, probed by node verifying the leaf", (service) => {
    type Upload = { file: string; permissions: string };
    const container = dev.one(CONTAINER, service);
    const envs = dev.revealed(container).envs as string[];
    expect(envs).toEqual(expect.arrayContaining(["TLS_CERT_FILE=/etc/fundament/tls/tls.crt", "TLS_KEY_FILE=/run/secrets/tls.key"]));
    const carrier = dev.one(CONTAINER, `${service}-files`);
    expect(isSecretMarker(carrier.inputs.uploads)).toBe(true);
    const uploads = dev.revealed(carrier).uploads as Upload[];
    expect(uploads.find((u) => u.file === "/run/secrets/tls.key")?.permissions).toBe("0400");
    expect(uploads.find((u) => u.file === "/etc/fundament/tls/tls.crt")?.permissions).toBe("0444");
    // The leaf names the workload's network alias, which every client dials.
    expect(dev.revealed(dev.one("tls:index/certRequest:CertRequest", `${service}-tls-csr`)).dnsNames).toEqual([service]);
    // The healthcheck runs the image's node, dials loopback and verifies the leaf for the service's name against the CA.
    const [form, program, flag, script] = (dev.revealed(container).healthcheck as { tests: string[] }).tests;
    expect([form, program, flag]).toEqual(["CMD", "node", "-e"]);
    expect(script).toContain("require('https')");
    expect(script).toContain(`"servername":"${service}"`);
    expect(script).toContain('readFileSync("/etc/fundament/tls/ca.crt")');
    expect(script).not.toMatch(/rejectUnauthorized/);
    // Stack output: the service's address inside the platform, https.
    expect((dev.outputs.services as Record<string, string>)[service]).toBe(`https://${service}:8080`);
  });

  it("has config fetch the users service's JWKS over https, verified against the platform CA", () => {
    const envs = dev.revealed(dev.one(CONTAINER, "config")).envs as string[];
    expect(envs).toEqual(expect.arrayContaining(["JWKS_URL=https://users:8080/.well-known/jwks.json", "JWKS_CA_FILE=/etc/fundament/tls/ca.crt"]));
  });

  it("gives the config service's change feed a session on PostgreSQL itself: LISTEN through transaction pooling hears nothing", () => {
    const envs = dev.revealed(dev.one(CONTAINER, "config")).envs as string[];
    const listen = envs.find((e) => e.startsWith("DATABASE_LISTEN_URL="));
    expect(listen).toMatch(/^DATABASE_LISTEN_URL=postgres:\/\/[a-z_]+@postgres:5432\/config\?sslmode=verify-full$/);
    const pooled = envs.find((e) => e.startsWith("DATABASE_URL="))!;
    // Same role and database, another door.
    expect(listen!.replace("DATABASE_LISTEN_URL=", "").replace("@postgres:5432/", "@")).toBe(pooled.replace("DATABASE_URL=", "").replace("@pgbouncer:6432/", "@"));
  });

  it.each(["users", "config"])("runs %s's migrations as a one-shot job before the service", (service) => {
    const job = dev.revealed(dev.one(CONTAINER, `${service}-migrate`));
    expect(job.entrypoints).toEqual(["node", `services/${service}/dist/migrate.js`]);
    expect(job.attach).toBe(true);
    expect(job.restart).toBe("no");
    // Migrations reach PostgreSQL itself: their session lifts the role's statement_timeout and
    // holds an advisory lock, neither of which survives PgBouncer's transaction pooling.
    const url = (job.envs as string[]).find((e) => e.startsWith("DATABASE_URL="));
    expect(url).toMatch(new RegExp(`^DATABASE_URL=postgres://[a-z_]+@postgres:5432/${service}\\?sslmode=verify-full$`));
    const served = (dev.revealed(dev.one(CONTAINER, service)).envs as string[]).find((e) => e.startsWith("DATABASE_URL="));
    expect(served).toMatch(/@pgbouncer:6432\//);
  });
});

describe("Consul on the dev stack", () => {
  type Upload = { file: string; content: string; permissions: string };
  /** A read-only container takes its files through its never-started carrier (<name>-files). */
  const uploadOf = (container: string, file: string): { upload: Upload; secret: boolean } => {
    for (const name of [container, `${container}-files`]) {
      const found = dev.all(CONTAINER).find((c) => c.name === name && ((dev.revealed(c).uploads as Upload[] | undefined) ?? []).some((u) => u.file === file));
      if (found) return { upload: (dev.revealed(found).uploads as Upload[]).find((u) => u.file === file)!, secret: isSecretMarker(found.inputs.uploads) };
    }
    throw new Error(`${container} has no upload ${file}`);
  };
  type ServerConfig = { bootstrap_expect: number; services: { name: string; checks: { tcp?: string; http?: string }[] }[] };
  const serverConfig = (): ServerConfig => JSON.parse(uploadOf("consul", "/consul/config/10-server.json").upload.content) as ServerConfig;

  it("runs one server, in backend and monitoring only, its ACL job after it, and catalogues the workloads of every layer with a check", () => {
    const consul = dev.one(CONTAINER, "consul");
    expect(zonesOf(consul)).toEqual(["backend", "monitoring"]);
    expect(dev.revealed(consul).user).toBe("100:1000");
    expect(dev.all(CONTAINER).filter((c) => c.name === "consul")).toHaveLength(1);
    expect(serverConfig().bootstrap_expect).toBe(1);
    expect(zonesOf(dev.one(CONTAINER, "consul-acl"))).toEqual(["backend"]);
    const catalogued = serverConfig().services.map((s) => s.name);
    // Layers below discovery (postgres), and those wired after it (the gateway, monitoring).
    expect(catalogued).toEqual(expect.arrayContaining(["postgres", "pgbouncer", "redis", "mongo", "rabbitmq", "minio", "gateway", "prometheus", "grafana"]));
    // The services register themselves through the kit.
    expect(catalogued).not.toContain("users");
    for (const service of serverConfig().services) expect(service.checks.length, service.name).toBeGreaterThan(0);
    expect(serverConfig().services.find((s) => s.name === "gateway")!.checks[0].http).toBe("http://gateway:8082/ping");
  });

  it.each(["users", "config"])("gives %s Consul's address in the environment and its token, CA and client certificate as files", (service) => {
    const envs = dev.revealed(dev.one(CONTAINER, service)).envs as string[];
    expect(envs).toContain("CONSUL_HTTP_ADDR=https://consul:8501");
    expect(envs).toContain(`CONSUL_SERVICE_ADDRESS=${service}`);
    for (const variable of ["CONSUL_HTTP_TOKEN", "CONSUL_CACERT", "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY"]) {
      expect(envs.some((e) => e.startsWith(`${variable}=`)), variable).toBe(false);
      const path = envs.find((e) => e.startsWith(`${variable}_FILE=`))?.split("=")[1];
      expect(path, variable).toMatch(/^\/run\/secrets\//);
      const { upload, secret } = uploadOf(service, path!);
      expect(secret).toBe(true);
      expect(upload.permissions).toBe("0400");
    }
    const token = uploadOf(service, envs.find((e) => e.startsWith("CONSUL_HTTP_TOKEN_FILE="))!.split("=")[1]).upload.content;
    expect(dev.generatedSecrets.has(token)).toBe(true);
  });

  it("lets the gateway read the catalogue over verified TLS with its own token and client certificate, exposing nothing by default", () => {
    const { upload, secret } = uploadOf("gateway", "/etc/traefik/traefik.yml");
    // Traefik takes the token only inside its static file: the file is the secret.
    expect(secret).toBe(true);
    const consulCatalog = (parse(upload.content) as { providers: { consulCatalog: { exposedByDefault: boolean; endpoint: { address: string; scheme: string; token: string; tls: Record<string, string> } } } }).providers.consulCatalog;
    expect(consulCatalog.exposedByDefault).toBe(false);
    expect(consulCatalog.endpoint).toMatchObject({ address: "consul:8501", scheme: "https", tls: { ca: "/etc/traefik/tls/ca.crt", cert: "/etc/traefik/tls/consul-client.crt", key: "/run/secrets/gateway/consul-client.key" } });
    expect(dev.generatedSecrets.has(consulCatalog.endpoint.token)).toBe(true);
    const key = uploadOf("gateway", "/run/secrets/gateway/consul-client.key");
    expect(key.secret).toBe(true);
    expect(key.upload.content).toMatch(/PRIVATE KEY/);
    // The Consul UI: behind basic auth, to Consul's HTTPS port, verified, presenting the same client certificate.
    const dynamic = parse(uploadOf("gateway", "/etc/traefik/dynamic.yml").upload.content) as {
      http: { routers: Record<string, { middlewares: string[] }>; services: Record<string, { loadBalancer: { servers: { url: string }[]; serversTransport?: string } }>; serversTransports: Record<string, { certificates?: unknown[] }> };
    };
    expect(dynamic.http.routers.consul.middlewares).toContain("auth-consul");
    expect(dynamic.http.services.consul.loadBalancer).toMatchObject({ servers: [{ url: "https://consul:8501" }], serversTransport: "platform-ca" });
    expect(dynamic.http.serversTransports["platform-ca"].certificates).toEqual([{ certFile: "/etc/traefik/tls/consul-client.crt", keyFile: "/run/secrets/gateway/consul-client.key" }]);
  });

  it("has Prometheus scrape Consul's agent metrics over HTTPS with its client certificate and a token file", () => {
    const jobs = (parse(uploadOf("prometheus", "/etc/prometheus/prometheus.yml").upload.content) as { scrape_configs: { job_name: string; scheme?: string; metrics_path: string; params?: Record<string, string[]>; tls_config?: Record<string, string>; authorization?: { credentials_file: string } }[] }).scrape_configs;
    const consul = jobs.find((j) => j.job_name === "consul")!;
    expect(consul).toMatchObject({ scheme: "https", metrics_path: "/v1/agent/metrics", params: { format: ["prometheus"] }, tls_config: { server_name: "consul", cert_file: "/etc/prometheus/consul/client.pem" } });
    const token = uploadOf("prometheus", consul.authorization!.credentials_file);
    expect(token.secret).toBe(true);
    expect(token.upload.permissions).toBe("0400");
    expect(dev.generatedSecrets.has(token.upload.content)).toBe(true);
  });

  it("outputs the bootstrap token and the UI's login as secrets, the UI's URL in plain text", () => {
    expect(isSecretMarker(dev.outputs.consulBootstrapToken)).toBe(true);
    expect(dev.generatedSecrets.has((dev.outputs.consulBootstrapToken as { value: string }).value)).toBe(true);
    expect(dev.outputs.consul).toEqual({ apiUrl: "https://consul:8501", servers: 1, uiUrl: "https://consul.fundament.localhost/" });
    const credentials = dev.outputs.adminUiCredentials as { value: Record<string, { user: string; password: string }> };
    expect(isSecretMarker(credentials)).toBe(true);
    expect(credentials.value.consul.user).toBe("admin");
  });
});
