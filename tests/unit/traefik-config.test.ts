import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { KEEP_ALIVE_TIMEOUT_MS } from "../../services/kit/src/serve";
import {
  BACKEND_IDLE_TIMEOUT_SECONDS,
  DROPPED_LOG_HEADERS,
  GATEWAY_PORTS,
  LONG_POLL_ROUTER_SUFFIX,
  GatewayRoute,
  PUBLIC_PORTS,
  rateLimitName,
  renderTraefikDynamic,
  renderTraefikStatic,
  TraefikStaticInput,
} from "../../components/edge";
import { parseTraefikDynamic, parseTraefikStatic, TraefikConfigError, traefikProblems } from "./traefik-model";
import { routerFor } from "./traefik-rule";

const BASE: TraefikStaticInput = { dynamicConfigPath: "/etc/traefik/dynamic.yml", caFile: "/etc/traefik/tls/ca.crt" };
const WITH_EVERYTHING: TraefikStaticInput = {
  ...BASE,
  consul: { address: "consul:8501", token: "0b3f6a8e-token", caFile: "/etc/traefik/tls/ca.crt", certFile: "/etc/traefik/tls/consul-client.crt", keyFile: "/run/secrets/gateway/consul-client.key" },
  acme: { email: "ops@example.com", caServer: "https://acme-staging-v02.api.letsencrypt.org/directory", storage: "/var/lib/traefik/acme.json", challenge: { kind: "dns", provider: "route53" } },
  proxyProtocolTrustedIPs: ["10.40.0.0/16"],
};

const ROUTES: GatewayRoute[] = [
  { name: "users", host: "users.example.com", backend: { url: "https://users:8080" }, rateLimit: { averagePerSecond: 20, burst: 40 } },
  { name: "grafana", host: "grafana.example.com", backend: { url: "http://grafana:3000" }, rateLimit: { averagePerSecond: 20, burst: 100 }, users: ["admin:$2a$10$abcdefghijklmnopqrstuuM5c0aGm3cT2b9l1g5v8Zr9zQJ6M9bW2"] },
  { name: "traefik", host: "traefik.example.com", backend: { internal: "api@internal" }, rateLimit: { averagePerSecond: 5, burst: 10 }, users: ["admin:$2a$10$zyxwvutsrqponmlkjihgfeuM5c0aGm3cT2b9l1g5v8Zr9zQJ6M9bW2"] },
];

describe("Traefik static configuration", () => {
  it.each([
    ["minimal (dev: platform CA, no Consul)", BASE],
    ["with Consul, an ACME DNS resolver and PROXY protocol (prod)", WITH_EVERYTHING],
    ["with an ACME TLS-ALPN resolver", { ...BASE, acme: { ...WITH_EVERYTHING.acme!, challenge: { kind: "tls" as const } } }],
  ])("uses only options Traefik v3 documents: %s", (_, input) => {
    expect(() => parseTraefikStatic(renderTraefikStatic(input))).not.toThrow();
  });

  it("redirects web to the port websecure is published on, and serves websecure with the strict TLS options", () => {
    const config = parseTraefikStatic(renderTraefikStatic(BASE));
    expect(config.entryPoints.web).toEqual({ address: `:${GATEWAY_PORTS.web}`, http: { redirections: { entryPoint: { to: `:${PUBLIC_PORTS.websecure}`, scheme: "https", permanent: true } } } });
    expect(config.entryPoints.websecure.address).toBe(`:${GATEWAY_PORTS.websecure}`);
    const options = config.entryPoints.websecure.http?.tls?.options;
    const dynamic = parseTraefikDynamic(renderTraefikDynamic({ routes: ROUTES, caFile: BASE.caFile }));
    expect(dynamic.tls.options[options!]).toMatchObject({ minVersion: "VersionTLS12", sniStrict: true });
    // Handshakes that match no router fall back to "default": it is just as strict.
    expect(dynamic.tls.options.default).toMatchObject({ minVersion: "VersionTLS12", sniStrict: true });
  });

  it("puts ping and Prometheus metrics on entry points of their own, and never serves the API insecurely", () => {
    const config = parseTraefikStatic(renderTraefikStatic(WITH_EVERYTHING));
    expect(config.ping.entryPoint).toBe("ping");
    expect(config.metrics.prometheus.entryPoint).toBe("metrics");
    const ports = Object.values(config.entryPoints).map((e) => e.address);
    expect(new Set(ports).size).toBe(ports.length);
    expect(config.api).toEqual({ dashboard: true, insecure: false });
  });

  it("closes idle connections to backends before the services would, on the default transport and the platform-CA one", () => {
    // A pooled connection the service closes just as the gateway sends on it fails the request
    // with a 502 (retried only when idempotent): the gateway must be the side that closes.
    const seconds = (duration: string | undefined) => Number(/^(\d+)s$/.exec(duration ?? "")?.[1]);
    const transports = [
      parseTraefikStatic(renderTraefikStatic(WITH_EVERYTHING)).serversTransport?.forwardingTimeouts,
      ...Object.values(parseTraefikDynamic(renderTraefikDynamic({ routes: ROUTES, caFile: BASE.caFile })).http.serversTransports ?? {}).map((transport) => transport.forwardingTimeouts),
    ];
    expect(transports).toHaveLength(2);
    for (const timeouts of transports) {
      expect(seconds(timeouts?.idleConnTimeout)).toBe(BACKEND_IDLE_TIMEOUT_SECONDS);
      expect(seconds(timeouts?.idleConnTimeout) * 1000).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS);
    }
  });

  it("logs access as JSON to stdout without credential headers", () => {
    const config = parseTraefikStatic(renderTraefikStatic(BASE));
    expect(config.accessLog.format).toBe("json");
    expect(config.accessLog).not.toHaveProperty("filePath");
    for (const header of ["Authorization", "Cookie"]) expect(config.accessLog.fields.headers.names[header]).toBe("drop");
    expect(Object.keys(config.accessLog.fields.headers.names).sort()).toEqual([...DROPPED_LOG_HEADERS].sort());
  });

  it("reads Consul's catalog over TLS with its ACL token, exposing nothing by default", () => {
    const config = parseTraefikStatic(renderTraefikStatic(WITH_EVERYTHING));
    expect(config.providers.consulCatalog).toEqual({
      exposedByDefault: false,
      prefix: "traefik",
      endpoint: { address: "consul:8501", scheme: "https", token: "0b3f6a8e-token", tls: { ca: "/etc/traefik/tls/ca.crt", cert: "/etc/traefik/tls/consul-client.crt", key: "/run/secrets/gateway/consul-client.key" } },
    });
    expect(parseTraefikStatic(renderTraefikStatic(BASE)).providers).not.toHaveProperty("consulCatalog");
  });

  it("trusts PROXY protocol only from the given sources, on both public entry points", () => {
    const config = parseTraefikStatic(renderTraefikStatic(WITH_EVERYTHING));
    expect(config.entryPoints.web.proxyProtocol).toEqual({ trustedIPs: ["10.40.0.0/16"] });
    expect(config.entryPoints.websecure.proxyProtocol).toEqual({ trustedIPs: ["10.40.0.0/16"] });
    expect(config.entryPoints.metrics).not.toHaveProperty("proxyProtocol");
    expect(parseTraefikStatic(renderTraefikStatic(BASE)).entryPoints.websecure).not.toHaveProperty("proxyProtocol");
  });
});

describe("the model of Traefik's documented options", () => {
  const rendered = parse(renderTraefikStatic(WITH_EVERYTHING)) as Record<string, Record<string, unknown>>;

  it("refuses an unknown key, naming where it is", () => {
    const typo = structuredClone(rendered);
    (typo.entryPoints.web as Record<string, unknown>).adress = ":80";
    expect(() => parseTraefikStatic(stringify(typo))).toThrow(TraefikConfigError);
    expect(traefikProblems("static", typo)).toEqual([expect.stringMatching(/^entryPoints\.web\.adress: unknown key/)]);
    const v2Option = structuredClone(rendered);
    (v2Option.providers.consulCatalog as Record<string, unknown>).endpoint = { ...(v2Option.providers.consulCatalog as { endpoint: object }).endpoint, tls: { caOptional: true } };
    expect(traefikProblems("static", v2Option)).toEqual([expect.stringMatching(/^providers\.consulCatalog\.endpoint\.tls\.caOptional: unknown key/)]);
  });

  it("refuses a value of the wrong type", () => {
    const wrong = structuredClone(rendered);
    (wrong.api as Record<string, unknown>).insecure = "false";
    expect(traefikProblems("static", wrong)).toEqual(['api.insecure: must be a boolean (got "false")']);
  });

  it("refuses a middleware with two types, and references that resolve to nothing", () => {
    const dynamic = parse(renderTraefikDynamic({ routes: ROUTES, caFile: BASE.caFile })) as { http: { middlewares: Record<string, object>; routers: Record<string, { middlewares: string[] }> } };
    dynamic.http.middlewares["security-headers"] = { ...dynamic.http.middlewares["security-headers"], rateLimit: { average: 1 } };
    expect(traefikProblems("dynamic", dynamic)).toEqual(["http.middlewares.security-headers: must declare exactly one middleware type (got headers, rateLimit)"]);
    const dangling = parse(renderTraefikDynamic({ routes: ROUTES, caFile: BASE.caFile })) as typeof dynamic;
    dangling.http.routers.users.middlewares.push("compress");
    expect(() => parseTraefikDynamic(stringify(dangling))).toThrow("http.routers.users: middleware compress is not defined");
  });
});

describe("Traefik dynamic configuration", () => {
  it("gives every router TLS, the security headers and its own rate limit; admin UIs also basic auth", () => {
    const config = parseTraefikDynamic(renderTraefikDynamic({ routes: ROUTES, caFile: BASE.caFile, certificate: { certFile: "/c.crt", keyFile: "/c.key" } }));
    expect(Object.keys(config.http.routers).sort()).toEqual(["grafana", "traefik", "users"]);
    for (const route of ROUTES) {
      const router = config.http.routers[route.name];
      expect(router.tls).toBeDefined();
      expect(router.entryPoints).toEqual(["websecure"]);
      expect(router.middlewares.slice(0, 2)).toEqual(["security-headers", rateLimitName(route.name)]);
      expect(config.http.middlewares[rateLimitName(route.name)]).toEqual({ rateLimit: { average: route.rateLimit.averagePerSecond, burst: route.rateLimit.burst, period: "1s" } });
      const auth = router.middlewares.map((m) => config.http.middlewares[m]).find((m) => "basicAuth" in m);
      expect(auth !== undefined).toBe(route.users !== undefined);
      if (auth && "basicAuth" in auth) expect(auth.basicAuth).toEqual({ users: route.users, realm: route.host, removeHeader: true });
    }
    // No router lets a client's trace context through (the services would record what it flags sampled).
    const headers = config.http.middlewares["security-headers"];
    expect(headers && "headers" in headers ? headers.headers.customRequestHeaders : undefined).toEqual({ traceparent: "", tracestate: "", baggage: "" });
    expect(config.http.routers.traefik.service).toBe("api@internal");
    expect(config.http.services.users.loadBalancer).toEqual({ servers: [{ url: "https://users:8080" }], passHostHeader: true, serversTransport: "platform-ca" });
    expect(config.http.serversTransports?.["platform-ca"]).toEqual({ rootCAs: [BASE.caFile], forwardingTimeouts: { idleConnTimeout: "60s" } });
    expect(config.tls.stores?.default.defaultCertificate).toEqual({ certFile: "/c.crt", keyFile: "/c.key" });
  });

  it("presents the gateway's client certificate to HTTPS backends that verify clients (Consul's UI), in a configuration Traefik v3 documents", () => {
    const clientCertificate = { certFile: "/etc/traefik/tls/consul-client.crt", keyFile: "/run/secrets/gateway/consul-client.key" };
    const consulUi: GatewayRoute = { name: "consul", host: "consul.example.com", backend: { url: "https://consul:8501" }, rateLimit: { averagePerSecond: 20, burst: 100 }, users: ["admin:$2a$10$x"] };
    const config = parseTraefikDynamic(renderTraefikDynamic({ routes: [...ROUTES, consulUi], caFile: BASE.caFile, clientCertificate }));
    expect(config.http.services.consul.loadBalancer.serversTransport).toBe("platform-ca");
    expect(config.http.serversTransports?.["platform-ca"]).toEqual({ rootCAs: [BASE.caFile], certificates: [clientCertificate], forwardingTimeouts: { idleConnTimeout: "60s" } });
  });

  it("carries any route's rate limit to its router (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }), fc.boolean(), (average, burst, admin) => {
        const route: GatewayRoute = { name: "svc", host: "svc.example.com", backend: { url: "http://svc:1" }, rateLimit: { averagePerSecond: average, burst }, ...(admin ? { users: ["admin:$2a$10$x"] } : {}) };
        const config = parseTraefikDynamic(renderTraefikDynamic({ routes: [route], caFile: "/ca" }));
        expect(config.http.middlewares[rateLimitName("svc")]).toEqual({ rateLimit: { average, burst, period: "1s" } });
        expect(config.http.routers.svc.middlewares.includes("auth-svc")).toBe(admin);
      }),
      { numRuns: 50 },
    );
  });

  it("serves a route's long polls on a router of their own, and everything else of the host on the route's router", () => {
    const config: GatewayRoute = {
      name: "config",
      host: "config.example.com",
      backend: { url: "https://config:8080" },
      rateLimit: { averagePerSecond: 100, burst: 200 },
      longPolls: [{ path: "/namespaces/:namespace/environments/:environment/watch" }, { path: "/namespaces/:namespace/environments/:environment/stream" }],
    };
    const users: GatewayRoute = { ...ROUTES[0]!, longPolls: [{ path: "/.well-known/jwks.json", heldWith: "wait" }] };
    const dynamic = parseTraefikDynamic(renderTraefikDynamic({ routes: [config, users, ROUTES[1]!], caFile: "/ca" }));
    const routers = dynamic.http.routers;
    const watch = `config${LONG_POLL_ROUTER_SUFFIX}`;
    // The same backend, middlewares (security headers, the route's own rate limit) and TLS.
    expect({ ...routers[watch], rule: undefined }).toEqual({ ...routers.config, rule: undefined });
    const on = (host: string, path: string, query?: Record<string, string>) => routerFor(routers, { host, path, ...(query ? { query } : {}) });
    expect(on("config.example.com", "/namespaces/shop/environments/prod/watch")).toBe(watch);
    expect(on("config.example.com", "/namespaces/shop/environments/prod/stream")).toBe(watch);
    expect(on("config.example.com", "/namespaces/shop/environments/prod")).toBe("config");
    expect(on("config.example.com", "/namespaces/shop/environments/prod/watch/more")).toBe("config");
    expect(on("config.example.com", "/namespaces/shop/environments/prod/effective")).toBe("config");
    // A parameter stands for one segment, never for a path of several.
    expect(on("config.example.com", "/namespaces/a/b/environments/prod/watch")).toBe("config");
    // The JWKS document waits only when asked to.
    expect(on("users.example.com", "/.well-known/jwks.json", { wait: "25s" })).toBe(`users${LONG_POLL_ROUTER_SUFFIX}`);
    expect(on("users.example.com", "/.well-known/jwks.json")).toBe("users");
    expect(on("users.example.com", "/.well-known/jwksXjson", { wait: "25s" })).toBe("users");
    // Another host's watch path is not this route's.
    expect(on("grafana.example.com", "/namespaces/shop/environments/prod/watch")).toBe("grafana");
    // Routes without long polls get no second router.
    expect(Object.keys(routers).sort()).toEqual(["config", watch, "grafana", "users", `users${LONG_POLL_ROUTER_SUFFIX}`].sort());
  });

  it("puts a long poll under the route's path prefix", () => {
    const route: GatewayRoute = { name: "api", host: "example.com", pathPrefix: "/api/", backend: { url: "http://api:1" }, rateLimit: { averagePerSecond: 1, burst: 1 }, longPolls: [{ path: "/jobs/:id/watch" }] };
    const routers = parseTraefikDynamic(renderTraefikDynamic({ routes: [route], caFile: "/ca" })).http.routers;
    expect(routerFor(routers, { host: "example.com", path: "/api/jobs/7/watch" })).toBe(`api${LONG_POLL_ROUTER_SUFFIX}`);
    expect(routerFor(routers, { host: "example.com", path: "/jobs/7/watch" })).toBeUndefined();
    expect(routerFor(routers, { host: "example.com", path: "/api/jobs/7" })).toBe("api");
  });

  it("refuses a long poll that is no route template, naming the route and the field", () => {
    const route = (path: string, heldWith?: string): GatewayRoute => ({ ...ROUTES[0]!, longPolls: [{ path, ...(heldWith === undefined ? {} : { heldWith }) }] });
    expect(() => renderTraefikDynamic({ routes: [route("watch")], caFile: "/ca" })).toThrow('gateway route users: longPolls[0].path must be a route template such as /things/:id/watch (got "watch")');
    expect(() => renderTraefikDynamic({ routes: [route("/a/`) || Host(`x")], caFile: "/ca" })).toThrow(/longPolls\[0\]\.path must be a route template/);
    expect(() => renderTraefikDynamic({ routes: [route("/a//b")], caFile: "/ca" })).toThrow(/longPolls\[0\]\.path/);
    expect(() => renderTraefikDynamic({ routes: [route("/a", "w`")], caFile: "/ca" })).toThrow('gateway route users: longPolls[0].heldWith must be a query parameter name (got "w`")');
    // A workload named like another route's long-poll router would take its name.
    expect(() => renderTraefikDynamic({ routes: [route("/a"), { ...ROUTES[1]!, name: `users${LONG_POLL_ROUTER_SUFFIX}` }], caFile: "/ca" })).toThrow(`a second router named users${LONG_POLL_ROUTER_SUFFIX}`);
  });

  it("refuses two routes for one host, and a route without a usable rate limit", () => {
    expect(() => renderTraefikDynamic({ routes: [ROUTES[0], { ...ROUTES[0], name: "users-2" }], caFile: "/ca" })).toThrow("gateway route users-2: Host(`users.example.com`) is already routed to users");
    expect(() => renderTraefikDynamic({ routes: [{ ...ROUTES[0], rateLimit: { averagePerSecond: 0, burst: 1 } }], caFile: "/ca" })).toThrow(/gateway route users: rateLimit must have averagePerSecond > 0/);
  });
});
