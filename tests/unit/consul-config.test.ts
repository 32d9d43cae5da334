import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { catalogEntryOf } from "../../components/discovery/catalog-entries";
import { renderAclJobScript, renderPolicyBody, renderTokenBody } from "../../components/discovery/consul-acl-job";
import { consumerPolicy } from "../../components/discovery/consul-acl";
import { ConsulServerConfigInput, renderConsulSecretConfig, renderConsulServerConfig } from "../../components/discovery/consul-config";
import { Workload } from "../../components/runtime/workload";
import { consulConfigProblems, mergeConsulConfigs } from "./consul-model";

const postgresLike: Workload = {
  name: "postgres",
  image: "postgres:17.11-trixie",
  zones: ["backend"],
  ports: [{ name: "postgres", port: 5432 }],
  health: { readiness: { kind: "exec", command: ["pg_isready"], periodSeconds: 5, timeoutSeconds: 3 }, liveness: { kind: "tcp", port: 5432 } },
  resources: { cpu: 1, memoryMiB: 512 },
  stopGracePeriodSeconds: 30,
};

const input = (servers: number): ConsulServerConfigInput => ({
  datacenter: "prod",
  servers,
  retryJoin: servers > 1 ? ["consul"] : [],
  ...(servers === 1 ? { nodeName: "consul" } : {}),
  prometheusRetentionSeconds: 60,
  services: [catalogEntryOf(postgresLike)!],
});

const secrets = {
  gossipKey: Buffer.alloc(32, 7).toString("base64"),
  initialManagementToken: "11111111-2222-3333-4444-555555555555",
  agentToken: "21111111-2222-3333-4444-555555555555",
  dnsToken: "31111111-2222-3333-4444-555555555555",
  registrationToken: "41111111-2222-3333-4444-555555555555",
};

function merged(servers: number): Record<string, unknown> {
  return mergeConsulConfigs(JSON.parse(renderConsulServerConfig(input(servers))), JSON.parse(renderConsulSecretConfig(secrets)));
}

describe("Consul server configuration against the documented options", () => {
  it.each([1, 3])("the merged config dir of %i server(s) uses only documented keys and values", (servers) => {
    expect(consulConfigProblems(JSON.parse(renderConsulServerConfig(input(servers))))).toEqual([]);
    expect(consulConfigProblems(JSON.parse(renderConsulSecretConfig(secrets)))).toEqual([]);
    expect(consulConfigProblems(merged(servers))).toEqual([]);
  });

  it("the model refuses what the agent refuses: unknown keys, wrong types, values outside the documented set", () => {
    expect(consulConfigProblems({ acl: { enabeld: true }, ports: { https: "8501" }, tls: { defaults: { verify_server_hostname: true } }, log_level: "LOUD" })).toEqual([
      "acl.enabeld: unknown key",
      "ports.https: must be an integer (got \"8501\")",
      // verify_server_hostname belongs to tls.internal_rpc only.
      "tls.defaults.verify_server_hostname: unknown key",
      "log_level: must be one of TRACE, DEBUG, INFO, WARN, ERR, ERROR (got \"LOUD\")",
    ]);
  });

  it("denies by default, serves HTTPS only with client certificates, verifies server names, keeps the UI, DNS and telemetry", () => {
    const config = merged(3) as {
      acl: Record<string, unknown> & { tokens: Record<string, string> };
      ports: Record<string, number>;
      tls: { defaults: Record<string, unknown>; internal_rpc: Record<string, unknown> };
      ui_config: { enabled: boolean };
      telemetry: Record<string, unknown>;
      bootstrap_expect: number;
      retry_join: string[];
      encrypt: string;
      enable_script_checks: boolean;
    };
    expect(config.acl).toMatchObject({ enabled: true, default_policy: "deny" });
    expect(config.acl.tokens).toEqual({
      initial_management: secrets.initialManagementToken,
      agent: secrets.agentToken,
      dns: secrets.dnsToken,
      config_file_service_registration: secrets.registrationToken,
    });
    expect(config.ports).toMatchObject({ http: -1, https: 8501, dns: 8600 });
    expect(config.tls.defaults).toMatchObject({ verify_incoming: true, verify_outgoing: true, tls_min_version: "TLSv1_2" });
    expect(config.tls.internal_rpc).toEqual({ verify_server_hostname: true });
    expect(config.ui_config.enabled).toBe(true);
    expect(config.telemetry.prometheus_retention_time).toBe("60s");
    expect(config.bootstrap_expect).toBe(3);
    expect(config.retry_join).toEqual(["consul"]);
    expect(Buffer.from(config.encrypt, "base64")).toHaveLength(32);
    expect(config.enable_script_checks).toBe(false);
  });

  it("keeps every secret out of the plain file", () => {
    const plain = renderConsulServerConfig(input(3));
    for (const secret of Object.values(secrets)) expect(plain).not.toContain(secret);
  });

  it("refuses an even number of servers, several servers with no way to meet, and a gossip key of the wrong size", () => {
    expect(() => renderConsulServerConfig({ ...input(3), servers: 2 })).toThrow("servers: must be an odd number of at least 1, so a quorum survives a loss (got 2)");
    expect(() => renderConsulServerConfig({ ...input(3), retryJoin: [] })).toThrow("retryJoin: several servers need a name to find each other");
    expect(() => renderConsulSecretConfig({ ...secrets, gossipKey: Buffer.alloc(16).toString("base64") })).toThrow("gossipKey: must be the base64 of exactly 32 bytes");
  });
});

describe("catalogue entries from readiness probes", () => {
  const base = { ...postgresLike };
  it("turns an http probe into an HTTP check of the same path, a tcp probe into a TCP check, an exec probe into a TCP check of the first port", () => {
    const http = catalogEntryOf({ ...base, name: "grafana", ports: [{ name: "http", port: 3000 }], health: { ...base.health, readiness: { kind: "http", port: 3000, path: "/api/health", periodSeconds: 10, timeoutSeconds: 3 } } });
    expect(http?.checks).toEqual([{ kind: "http", name: "grafana readiness (GET /api/health)", url: "http://grafana:3000/api/health", intervalSeconds: 10, timeoutSeconds: 3 }]);
    const tcp = catalogEntryOf({ ...base, name: "pgbouncer", ports: [{ name: "pgbouncer", port: 6432 }], health: { ...base.health, readiness: { kind: "tcp", port: 6432 } } });
    expect(tcp?.checks).toEqual([{ kind: "tcp", name: "pgbouncer readiness (TCP 6432)", address: "pgbouncer:6432", intervalSeconds: 10, timeoutSeconds: 5 }]);
    const exec = catalogEntryOf(base);
    expect(exec).toMatchObject({ id: "postgres", address: "postgres", port: 5432, checks: [{ kind: "tcp", address: "postgres:5432", intervalSeconds: 5, timeoutSeconds: 3 }] });
    const rendered = JSON.parse(renderConsulServerConfig(input(1))) as { services: { checks: Record<string, unknown>[] }[] };
    expect(rendered.services[0].checks).toEqual([{ id: "postgres-0", name: exec!.checks[0].name, interval: "5s", timeout: "3s", tcp: "postgres:5432" }]);
  });

  it("checks a port that serves TLS only over https, verifying the name its leaf carries", () => {
    const readiness = { kind: "http" as const, port: 9443, path: "/ready", https: { caFile: "/tls/ca.crt", serverName: "minio.backend" } };
    const entry = catalogEntryOf({ ...base, name: "minio", ports: [{ name: "api", port: 9443 }], health: { ...base.health, readiness } });
    expect(entry?.checks).toEqual([{ kind: "http", name: "minio readiness (GET /ready)", url: "https://minio:9443/ready", intervalSeconds: 10, timeoutSeconds: 5, tlsServerName: "minio.backend" }]);
    const rendered = JSON.parse(renderConsulServerConfig({ ...input(1), services: [entry!] })) as { services: { checks: Record<string, unknown>[] }[] };
    expect(rendered.services[0].checks[0]).toMatchObject({ http: "https://minio:9443/ready", tls_server_name: "minio.backend" });
  });

  it("leaves the services to register themselves", () => {
    expect(catalogEntryOf({ ...base, name: "users", role: "service" })).toBeUndefined();
  });
});

describe("the ACL job", () => {
  const policy = consumerPolicy({ kind: "traefik", name: "traefik" }, { serverNodes: ["consul"], infrastructureServices: [] });
  const script = renderAclJobScript({
    apiUrl: "https://consul:8501",
    caPath: "/consul/tls/ca.pem",
    certPath: "/consul/tls/server.pem",
    keyPath: "/consul/tls/server-key.pem",
    policies: [policy],
    tokens: [{ name: "traefik", accessorId: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", policy: "traefik" }],
    leaderTimeoutSeconds: 60,
  });

  it("is a valid POSIX shell script that upserts each policy and token and puts no secret on a command line", () => {
    const parsed = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
    expect(parsed.status, parsed.stderr).toBe(0);
    expect(script).toContain('"$api/v1/acl/policy/name/traefik"');
    expect(script).toContain('--data @/consul/acl/policy-traefik.json "$api/v1/acl/policy"');
    expect(script).toContain('--data @/consul/acl/token-traefik.json "$api/v1/acl/token"');
    expect(script).toContain("-H @/consul/acl/management-header");
    // The token travels in the header file only.
    expect(script).not.toContain("X-Consul-Token");
  });

  it("sends the bodies the ACL API documents", () => {
    expect(JSON.parse(renderPolicyBody(policy))).toEqual({ Name: "traefik", Description: policy.description, Rules: JSON.stringify(policy.rules) });
    expect(JSON.parse(renderTokenBody({ name: "traefik", accessorId: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", policy: "traefik" }, "11111111-2222-3333-4444-555555555555"))).toEqual({
      AccessorID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
      SecretID: "11111111-2222-3333-4444-555555555555",
      Description: "traefik",
      Policies: [{ Name: "traefik" }],
      Local: false,
    });
  });

  it("refuses a token linked to a policy it does not create", () => {
    expect(() =>
      renderAclJobScript({ apiUrl: "https://consul:8501", caPath: "a", certPath: "b", keyPath: "c", policies: [], tokens: [{ name: "x", accessorId: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", policy: "traefik" }], leaderTimeoutSeconds: 1 }),
    ).toThrow("token x: policy traefik is not among the policies");
  });
});
