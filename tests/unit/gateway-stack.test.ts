import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { authName, DYNAMIC_CONFIG_PATH, GATEWAY_PORTS, LONG_POLL_ROUTER_SUFFIX, PUBLIC_PORTS, rateLimitName, STATIC_CONFIG_PATH } from "../../components/edge";
import { fileKey } from "../../components/runtime/kubernetes-pod";
import { isSecretMarker, readStackConfig } from "../../scripts/mock-engine";
import { runStack, secretLeaks, StackView } from "./stack-run";
import { parseTraefikDynamic, parseTraefikStatic } from "./traefik-model";
import { routerFor } from "./traefik-rule";

/**
 * The gateway as both stacks deploy it, read back from what the mock engine records: the files
 * Traefik is given (parsed with the model of Traefik's documented options), who publishes ports,
 * and what `pulumi stack output` tells a user.
 */

const CONTAINER = "docker:index/container:Container";
const SERVICE = "kubernetes:core/v1:Service";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
const SECRET = "kubernetes:core/v1:Secret";

/** Every admin UI the platform has: each must be routed behind basic auth. */
const ADMIN_UIS = ["alertmanager", "consul", "grafana", "jaeger", "minio", "prometheus", "rabbitmq", "traefik"];
const APIS = ["config", "gpu-jobs", "users"];
/** The APIs that hold requests (config's watches and stream, users' JWKS watch): each has a second router for them. */
const LONG_POLL_ROUTERS = ["config", "users"].map((api) => `${api}${LONG_POLL_ROUTER_SUFFIX}`);

interface Upload {
  file: string;
  content: string;
}

/** The gateway's files: uploads of its carrier container (Docker) or its ConfigMap and Secret (Kubernetes). */
function gatewayFile(view: StackView, path: string): string {
  if (view.all(CONTAINER).length > 0) {
    const uploads = view.all(CONTAINER).filter((c) => c.name === "gateway" || c.name === "gateway-files").flatMap((c) => (view.revealed(c).uploads as Upload[] | undefined) ?? []);
    const upload = uploads.find((u) => u.file === path);
    if (!upload) throw new Error(`gateway has no file ${path}`);
    return upload.content;
  }
  const key = fileKey({ path, content: "" });
  for (const [type, field] of [[CONFIG_MAP, "data"], [SECRET, "stringData"]] as const) {
    for (const object of view.all(type).filter((o) => o.name.startsWith("gateway-"))) {
      const data = view.revealed(object)[field] as Record<string, string> | undefined;
      if (data?.[key] !== undefined) return data[key];
    }
  }
  throw new Error(`gateway has no file ${path}`);
}

const runs = new Map<string, Promise<StackView>>();
/** One mock-engine run per stack for the whole file: each takes tens of seconds on a loaded machine. */
function stackView(stack: string): Promise<StackView> {
  if (!runs.has(stack)) runs.set(stack, runStack(stack));
  return runs.get(stack)!;
}

describe.each(["dev", "prod"])("the gateway on the %s stack", (stack) => {
  let view: StackView;
  beforeAll(async () => {
    view = await stackView(stack);
  }, 300_000);

  it("renders a static configuration Traefik v3 accepts, with no insecure API and no credential headers in the access log", () => {
    const config = parseTraefikStatic(gatewayFile(view, STATIC_CONFIG_PATH));
    expect(config.api.insecure).toBe(false);
    expect(config.accessLog.fields.headers.names).toMatchObject({ Authorization: "drop", Cookie: "drop" });
    expect(config.providers.file.filename).toBe(DYNAMIC_CONFIG_PATH);
    expect(config.entryPoints.web.http?.redirections?.entryPoint.to).toBe(`:${PUBLIC_PORTS.websecure}`);
    if (stack === "prod") {
      // Let's Encrypt through the TLS challenge, the resolver every router of websecure uses.
      expect(config.certificatesResolvers?.letsencrypt.acme).toMatchObject({ email: "platform-ops@platform.example.com", tlsChallenge: {} });
      expect(config.entryPoints.websecure.http?.tls?.certResolver).toBe("letsencrypt");
      // The NLB's PROXY headers, believed only from the VPC.
      expect(config.entryPoints.websecure.proxyProtocol).toEqual({ trustedIPs: ["10.40.0.0/16"] });
    }
  });

  it("routes every API and admin UI over TLS with a rate limit, and every admin UI behind basic auth", () => {
    const config = parseTraefikDynamic(gatewayFile(view, DYNAMIC_CONFIG_PATH));
    const routers = config.http.routers;
    expect(Object.keys(routers).sort()).toEqual([...ADMIN_UIS, ...APIS, ...LONG_POLL_ROUTERS].sort());
    for (const [routerName, router] of Object.entries(routers)) {
      // A long-poll router serves its route's backend with its route's middlewares.
      const name = routerName.endsWith(LONG_POLL_ROUTER_SUFFIX) ? routerName.slice(0, -LONG_POLL_ROUTER_SUFFIX.length) : routerName;
      expect(router.tls, routerName).toBeDefined();
      expect(router.entryPoints, routerName).toEqual(["websecure"]);
      expect(router.middlewares, routerName).toContain(rateLimitName(name));
      expect(config.http.middlewares[rateLimitName(name)], routerName).toHaveProperty("rateLimit");
      const auth = router.middlewares.map((m) => config.http.middlewares[m]).filter((m) => "basicAuth" in m);
      expect(auth.length, routerName).toBe(ADMIN_UIS.includes(name) ? 1 : 0);
      for (const middleware of auth) {
        if (!("basicAuth" in middleware)) continue;
        // htpasswd lines with bcrypt hashes, never a password.
        expect(middleware.basicAuth.users).toEqual([expect.stringMatching(/^admin:\$2[aby]\$\d\d\$/)]);
      }
    }
    // RabbitMQ management checks the Authorization header itself: the gateway accepts exactly its
    // admin login and passes the header on; every other UI's gateway password stops at the gateway.
    const adminHash = view.providerState.get("random:index/randomPassword:RandomPassword::rabbitmq-admin-password")?.bcryptHash;
    expect(config.http.middlewares[authName("rabbitmq")]).toEqual({ basicAuth: { users: [`admin:${String(adminHash)}`], realm: expect.any(String), removeHeader: false } });
    for (const ui of ADMIN_UIS.filter((name) => name !== "rabbitmq")) expect(config.http.middlewares[authName(ui)], ui).toMatchObject({ basicAuth: { removeHeader: true } });
    // RabbitMQ management speaks HTTPS only: the gateway dials it so, verifying it against the platform CA.
    const rabbitService = config.http.services[routers.rabbitmq.service];
    expect(rabbitService && "loadBalancer" in rabbitService ? rabbitService.loadBalancer.servers : undefined).toEqual([{ url: expect.stringMatching(/^https:\/\/rabbitmq(\.[a-z0-9.-]+)?:15671$/) }]);
    const transport = rabbitService && "loadBalancer" in rabbitService ? rabbitService.loadBalancer.serversTransport : undefined;
    expect(transport && config.http.serversTransports?.[transport]?.rootCAs).toHaveLength(1);
    // The APIs serve HTTPS with their leaves: the gateway dials https by the workload's name and
    // verifies the leaf against the platform CA (the transport's one root).
    for (const api of APIS) {
      const service = config.http.services[routers[api].service];
      const balancer = service && "loadBalancer" in service ? service.loadBalancer : undefined;
      expect(balancer?.servers, api).toEqual([{ url: `https://${api}:8080` }]);
      expect(balancer?.serversTransport, api).toBe(transport);
    }
    // Config's watches reach config on the long-poll router, which the gateway latency alert leaves out; its reads stay on config's.
    const domain = stack === "dev" ? "fundament.localhost" : "platform.example.com";
    expect(routerFor(routers, { host: `config.${domain}`, path: "/namespaces/shop/environments/prod/watch", query: { wait: "30s" } })).toBe(`config${LONG_POLL_ROUTER_SUFFIX}`);
    expect(routerFor(routers, { host: `config.${domain}`, path: "/namespaces/shop/environments/prod" })).toBe("config");
    expect(routers[`config${LONG_POLL_ROUTER_SUFFIX}`]!.service).toBe(routers.config.service);
    expect(routers.grafana.rule).toBe(`Host(\`grafana.${stack === "dev" ? "fundament.localhost" : "platform.example.com"}\`)`);
    expect(config.http.middlewares[rateLimitName("config")]).toEqual({ rateLimit: { average: 100, burst: 200, period: "1s" } });
  });

  it("holds the bcrypt hashes only in secret files, and leaks no generated secret into plain text", () => {
    if (stack === "dev") {
      expect(isSecretMarker(view.one(CONTAINER, "gateway-files").inputs.uploads)).toBe(true);
    } else {
      const secret = view.all(SECRET).find((s) => s.name === "gateway-secrets")!;
      expect(Object.keys(view.revealed(secret).stringData as object)).toContain(fileKey({ path: DYNAMIC_CONFIG_PATH, content: "" }));
    }
    expect(secretLeaks(view)).toEqual([]);
  });

  it("outputs each API's and UI's public URL in plain text, and each UI's credentials as a secret", () => {
    const urls = view.outputs.publicUrls as Record<string, string>;
    const domain = stack === "dev" ? "fundament.localhost" : "platform.example.com";
    expect(isSecretMarker(urls)).toBe(false);
    expect(Object.keys(urls).sort()).toEqual([...ADMIN_UIS, ...APIS].sort());
    expect(urls.users).toBe(`https://users.${domain}/`);
    expect(urls.traefik).toBe(`https://traefik.${domain}/`);
    expect(isSecretMarker(view.outputs.adminUiCredentials)).toBe(true);
    const credentials = (view.outputs.adminUiCredentials as { value: Record<string, { user: string; password: string }> }).value;
    expect(Object.keys(credentials).sort()).toEqual([...ADMIN_UIS].sort());
    for (const ui of ADMIN_UIS.filter((name) => name !== "rabbitmq")) expect(credentials[ui]).toEqual({ user: "admin", password: expect.stringMatching(/^[A-Za-z0-9]{32}$/) });
    // RabbitMQ management's own admin login, which its UI sends on every call.
    expect(credentials.rabbitmq).toEqual({ user: "admin", password: view.providerState.get("random:index/randomPassword:RandomPassword::rabbitmq-admin-password")?.result });
    // The hostname exists once the controller has made the NLB (not under the mock engine).
    if (stack === "prod") expect(view.outputs.gatewayLoadBalancer).toMatchObject({ service: "gateway-public" });
    else expect(view.outputs).not.toHaveProperty("gatewayLoadBalancer");
  });

  it("trusts forwarded client addresses in the users service from the gateway only, and makes config reads need a role", () => {
    const env = (name: string): Record<string, unknown> => {
      if (stack === "dev") {
        const envs = view.revealed(view.one(CONTAINER, name)).envs as string[];
        return Object.fromEntries(envs.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
      }
      const deployment = view.revealed(view.one("kubernetes:apps/v1:Deployment", name)) as { spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } } };
      return Object.fromEntries(deployment.spec.template.spec.containers[0].env.map((e) => [e.name, e.value]));
    };
    expect(env("config").CONFIG_READ_ROLE).toBe("config:read");
    // Docker: the gateway container's addresses, read back once it exists (empty under the mock engine).
    expect(env("users")).toHaveProperty("TRUST_PROXY", stack === "prod" ? "10.40.0.0/16" : "");
  });
});

describe("who publishes ports", () => {
  it("on dev, only the gateway: 80 and 443 on the publish address, onto its unprivileged listeners", async () => {
    const dev = await stackView("dev");
    const publishing = dev.all(CONTAINER).filter((c) => ((dev.revealed(c).ports as unknown[]) ?? []).length > 0);
    expect(publishing.map((c) => c.name)).toEqual(["gateway"]);
    expect(dev.revealed(publishing[0]).ports).toEqual([
      { internal: GATEWAY_PORTS.web, external: PUBLIC_PORTS.web, ip: "127.0.0.1", protocol: "tcp" },
      { internal: GATEWAY_PORTS.websecure, external: PUBLIC_PORTS.websecure, ip: "127.0.0.1", protocol: "tcp" },
    ]);
    const gateway = dev.revealed(publishing[0]);
    expect(gateway.user).toBe("10101:10101");
    expect(gateway.readOnly).toBe(true);
  });

  it("on dev with publishDataPorts, the data services join it on the same address, as that option documents", { timeout: 300_000 }, async () => {
    const config = { ...readStackConfig("dev"), "fundament:docker": JSON.stringify({ publishDataPorts: true, publishAddress: "127.0.0.2" }) };
    const dev = await runStack("dev", config);
    const publishing = dev.all(CONTAINER).filter((c) => ((dev.revealed(c).ports as unknown[]) ?? []).length > 0);
    const roles = publishing.map((c) => ({ name: c.name, role: (dev.revealed(c).labels as { label: string; value: string }[]).find((l) => l.label === "fundament.role")!.value }));
    expect(roles.filter((r) => r.role !== "data").map((r) => r.name)).toEqual(["gateway"]);
    for (const container of publishing) for (const port of dev.revealed(container).ports as { ip: string }[]) expect(port.ip).toBe("127.0.0.2");
    // Docker publishes nothing for a container on internal networks only: those join the
    // host-access network, which lets nothing out (no masquerading) and joins nobody (no ICC).
    const networks = dev.all("docker:index/network:Network").map((n) => dev.revealed(n) as { name: string; internal?: boolean; options?: Record<string, string> });
    const hostAccess = networks.filter((n) => n.name.endsWith("-host-access"));
    expect(hostAccess).toHaveLength(1);
    expect(hostAccess[0].internal).toBe(false);
    expect(hostAccess[0].options).toEqual({ "com.docker.network.bridge.enable_ip_masquerade": "false", "com.docker.network.bridge.enable_icc": "false" });
    const internal = new Set(networks.filter((n) => n.internal === true).map((n) => n.name));
    for (const container of publishing) {
      const joined = (dev.revealed(container).networksAdvanced as { name: string }[]).map((n) => n.name);
      const zones = joined.filter((n) => n !== hostAccess[0].name);
      expect(joined.includes(hostAccess[0].name), container.name).toBe(zones.every((n) => internal.has(n)));
    }
    const onHostAccess = dev.all(CONTAINER).filter((c) => ((dev.revealed(c).networksAdvanced as { name: string }[] | undefined) ?? []).some((n) => n.name === hostAccess[0].name));
    expect(onHostAccess.length).toBeGreaterThanOrEqual(3);
    expect(onHostAccess.filter((c) => !publishing.includes(c)).map((c) => c.name)).toEqual([]);
    // Without the option nothing publishes data ports, and the network is not made.
    const plain = await stackView("dev");
    expect(plain.all("docker:index/network:Network").map((n) => String(plain.revealed(n).name)).filter((name) => name.endsWith("-host-access"))).toEqual([]);
  });

  it("on prod, only the gateway's Service is a load balancer (an internet-facing NLB to the pods, no node ports); every other Service is ClusterIP", async () => {
    const prod = await stackView("prod");
    const services = prod.all(SERVICE).map((s) => ({ name: s.name, spec: prod.revealed(s).spec as { type: string; ports: object[]; selector: object; allocateLoadBalancerNodePorts?: boolean }, metadata: prod.revealed(s).metadata as { annotations?: Record<string, string> } }));
    const exposed = services.filter((s) => s.spec.type !== "ClusterIP");
    expect(exposed.map((s) => s.name)).toEqual(["gateway-public"]);
    expect(exposed[0].spec.type).toBe("LoadBalancer");
    // The NLB sends to pod IPs: node ports would answer on every node, past the gateway's security group.
    expect(exposed[0].spec.allocateLoadBalancerNodePorts).toBe(false);
    expect(exposed[0].spec.selector).toEqual({ "app.kubernetes.io/name": "gateway" });
    expect(exposed[0].spec.ports).toEqual([
      { name: "web", port: PUBLIC_PORTS.web, targetPort: GATEWAY_PORTS.web, protocol: "TCP" },
      { name: "websecure", port: PUBLIC_PORTS.websecure, targetPort: GATEWAY_PORTS.websecure, protocol: "TCP" },
    ]);
    expect(exposed[0].metadata.annotations).toMatchObject({
      "service.beta.kubernetes.io/aws-load-balancer-type": "external",
      "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
      "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
      "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol": "*",
    });
    expect(services.filter((s) => s.spec.type === "ClusterIP").length).toBe(services.length - 1);
  });

  it("scrapes the gateway's metrics entry point, which only the monitoring zone is offered", async () => {
    const dev = await stackView("dev");
    const prometheus = dev.all(CONTAINER).filter((c) => c.name === "prometheus" || c.name === "prometheus-files").flatMap((c) => (dev.revealed(c).uploads as Upload[] | undefined) ?? []);
    const scrape = parse(prometheus.find((u) => u.file === "/etc/prometheus/prometheus.yml")!.content) as { scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[] };
    const job = scrape.scrape_configs.find((c) => c.job_name === "gateway");
    expect(job?.static_configs?.[0].targets).toEqual([`gateway:${GATEWAY_PORTS.metrics}`]);
    const labels = dev.revealed(dev.one(CONTAINER, "gateway")).labels as { label: string; value: string }[];
    expect(labels.find((l) => l.label === "fundament.port.metrics.zones")?.value).toBe("monitoring");
  });

  it("scrapes the services' metrics listeners over HTTPS, verifying each leaf against the platform CA Prometheus is given once", async () => {
    const dev = await stackView("dev");
    const prometheus = dev.all(CONTAINER).filter((c) => c.name === "prometheus" || c.name === "prometheus-files").flatMap((c) => (dev.revealed(c).uploads as Upload[] | undefined) ?? []);
    type Job = { job_name: string; scheme?: string; tls_config?: Record<string, string>; authorization?: unknown; static_configs?: { targets: string[] }[] };
    const scrape = parse(prometheus.find((u) => u.file === "/etc/prometheus/prometheus.yml")!.content) as { scrape_configs: Job[] };
    for (const api of APIS) {
      const job = scrape.scrape_configs.find((c) => c.job_name === api);
      expect(job, api).toMatchObject({ scheme: "https", tls_config: { ca_file: "/etc/prometheus/tls/platform-ca.crt", server_name: api, min_version: "TLS12" }, static_configs: [{ targets: [`${api}:9464`] }] });
      // The service asks no client certificate and no token of its scraper.
      expect(job?.tls_config, api).not.toHaveProperty("cert_file");
      expect(job, api).not.toHaveProperty("authorization");
    }
    expect(prometheus.filter((u) => u.file === "/etc/prometheus/tls/platform-ca.crt")).toHaveLength(1);
  });
});
