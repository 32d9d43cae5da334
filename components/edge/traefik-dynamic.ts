import { stringify } from "yaml";
import type { LongPoll, RateLimit } from "../runtime/workload";
import type { TraefikDynamicConfig, TraefikMiddleware, TraefikRouter, TraefikService } from "./traefik-config-types";
import { BACKEND_FORWARDING_TIMEOUTS, TLS_OPTIONS } from "./traefik-static";

export const SECURITY_HEADERS = "security-headers";
/** W3C Trace Context and Baggage: what a caller sends to join or steer a trace. */
export const TRACE_CONTEXT_HEADERS = ["traceparent", "tracestate", "baggage"] as const;
/** The transport to backends that serve HTTPS with a platform-CA certificate. */
export const PLATFORM_TRANSPORT = "platform-ca";
/** Traefik's own API and dashboard, served only through a router. */
export const DASHBOARD_SERVICE = "api@internal";

/** One host (and optional path) the gateway serves, and where it sends it. */
export interface GatewayRoute {
  /** Router, service and middleware names derive from it: the workload's name. */
  name: string;
  host: string;
  pathPrefix?: string;
  /** The backend: a URL (http:// or https://) or Traefik's internal service name. */
  backend: { url: string } | { internal: string };
  rateLimit: RateLimit;
  /** htpasswd lines (bcrypt) the route's basic auth accepts; absent for APIs that authenticate themselves. */
  users?: string[];
  /** Pass the checked Authorization header on: the backend checks the same login (see WorkloadRoute.backendLogin). */
  forwardAuthorization?: boolean;
  /** Requests held open on purpose: served by a router of their own, `<name>-long-poll`. */
  longPolls?: readonly LongPoll[];
}

export interface TraefikDynamicInput {
  routes: GatewayRoute[];
  /** The certificate served when no ACME resolver is configured (platform CA in dev, or one given in config). */
  certificate?: { certFile: string; keyFile: string };
  /** Backends on https:// are verified against this CA. */
  caFile: string;
  /**
   * Presented to https:// backends that verify their clients (Consul's UI and API: verify_incoming);
   * backends that ask for no certificate are not sent one.
   */
  clientCertificate?: { certFile: string; keyFile: string };
}

/** TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are not configurable in Go. */
export const TLS12_CIPHER_SUITES = [
  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

export const rateLimitName = (route: string): string => `ratelimit-${route}`;
/** Names the router of a route's long polls, which the gateway latency alert leaves out. */
export const LONG_POLL_ROUTER_SUFFIX = "-long-poll";
export const authName = (route: string): string => `auth-${route}`;

function rule(route: GatewayRoute): string {
  const host = `Host(\`${route.host}\`)`;
  return route.pathPrefix ? `${host} && PathPrefix(\`${route.pathPrefix}\`)` : host;
}

/** Template segments are literal but for `:param`, which stands for one segment. */
const TEMPLATE = /^(\/([A-Za-z0-9._~-]+|:[A-Za-z][A-Za-z0-9_]*))+$/;
const goRegexLiteral = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Go's regexp for a route template under the route's path prefix, anchored: PathRegexp matches anywhere otherwise. */
function templateRegexp(template: string, pathPrefix: string | undefined): string {
  const prefix = (pathPrefix ?? "").replace(/\/+$/, "");
  const segments = `${prefix}${template}`.split("/").slice(1).map((segment) => (segment.startsWith(":") ? "[^/]+" : goRegexLiteral(segment)));
  return `^/${segments.join("/")}$`;
}

/** The requests of a route that wait: its own rule and, per long poll, the path (and query parameter) that holds. */
function longPollRule(route: GatewayRoute, polls: readonly LongPoll[]): string {
  const matchers = polls.map((poll) => {
    const path = `PathRegexp(\`${templateRegexp(poll.path, route.pathPrefix)}\`)`;
    return poll.heldWith === undefined ? path : `(${path} && QueryRegexp(\`${poll.heldWith}\`, \`.*\`))`;
  });
  return `${rule(route)} && (${matchers.join(" || ")})`;
}

/** Throws, naming each, on two routes with one name or one host and path: Traefik would pick one silently. */
function checkRoutes(routes: GatewayRoute[]): void {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const names = new Set<string>();
  for (const route of routes) {
    const routers = [route.name, ...((route.longPolls ?? []).length > 0 ? [`${route.name}${LONG_POLL_ROUTER_SUFFIX}`] : [])];
    for (const router of routers) {
      if (names.has(router)) problems.push(`gateway route ${route.name}: a second router named ${router}`);
      names.add(router);
    }
    const key = rule(route);
    const other = seen.get(key);
    if (other !== undefined) problems.push(`gateway route ${route.name}: ${key} is already routed to ${other}`);
    seen.set(key, route.name);
    for (const [index, poll] of (route.longPolls ?? []).entries()) {
      if (!TEMPLATE.test(poll.path)) problems.push(`gateway route ${route.name}: longPolls[${index}].path must be a route template such as /things/:id/watch (got ${JSON.stringify(poll.path)})`);
      if (poll.heldWith !== undefined && !/^[A-Za-z0-9_.-]+$/.test(poll.heldWith)) problems.push(`gateway route ${route.name}: longPolls[${index}].heldWith must be a query parameter name (got ${JSON.stringify(poll.heldWith)})`);
    }
    if (!(route.rateLimit.averagePerSecond > 0) || !(route.rateLimit.burst >= 1)) {
      problems.push(`gateway route ${route.name}: rateLimit must have averagePerSecond > 0 and burst >= 1 (got ${JSON.stringify(route.rateLimit)})`);
    }
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
}

/** The dynamic configuration as data: what the renderer writes and the tests read back. */
export function traefikDynamicConfig(input: TraefikDynamicInput): TraefikDynamicConfig {
  checkRoutes(input.routes);
  const routers: Record<string, TraefikRouter> = {};
  const services: Record<string, TraefikService> = {};
  const middlewares: Record<string, TraefikMiddleware> = {
    [SECURITY_HEADERS]: {
      headers: {
        stsSeconds: 31_536_000,
        stsIncludeSubdomains: true,
        forceSTSHeader: true,
        frameDeny: true,
        contentTypeNosniff: true,
        referrerPolicy: "strict-origin-when-cross-origin",
        permissionsPolicy: "camera=(), microphone=(), geolocation=()",
        // A client on the internet does not join our traces: a traceparent it sends would choose
        // the trace id our services log and, flagged sampled, make every parent-based service
        // record the request whatever monitoring.traceSampleRatio says. An empty value removes the
        // header; the services start a trace of their own.
        customRequestHeaders: Object.fromEntries(TRACE_CONTEXT_HEADERS.map((header) => [header, ""])),
      },
    },
  };
  for (const route of input.routes) {
    const chain = [SECURITY_HEADERS, rateLimitName(route.name)];
    // Traefik's default source is the connection's remote address: per client, once the load
    // balancer's PROXY header (prod) has been read.
    middlewares[rateLimitName(route.name)] = { rateLimit: { average: route.rateLimit.averagePerSecond, burst: route.rateLimit.burst, period: "1s" } };
    if (route.users) {
      // After the rate limit, so a client guessing passwords is throttled like any other.
      chain.push(authName(route.name));
      // The gateway's own password goes no further than the gateway, unless it is the backend's login.
      middlewares[authName(route.name)] = { basicAuth: { users: route.users, realm: route.host, removeHeader: !route.forwardAuthorization } };
    }
    let service: string;
    if ("internal" in route.backend) {
      service = route.backend.internal;
    } else {
      service = route.name;
      const https = route.backend.url.startsWith("https://");
      services[route.name] = { loadBalancer: { servers: [{ url: route.backend.url }], passHostHeader: true, ...(https ? { serversTransport: PLATFORM_TRANSPORT } : {}) } };
    }
    routers[route.name] = { rule: rule(route), entryPoints: ["websecure"], service, middlewares: chain, tls: { options: TLS_OPTIONS } };
    // Same service and middlewares; its rule is the route's own and more, so by Traefik's default
    // priority (the rule's length) it wins for the requests it matches.
    if (route.longPolls !== undefined && route.longPolls.length > 0) {
      routers[`${route.name}${LONG_POLL_ROUTER_SUFFIX}`] = { ...routers[route.name]!, rule: longPollRule(route, route.longPolls) };
    }
  }
  const tlsOptions = { minVersion: "VersionTLS12", sniStrict: true, cipherSuites: TLS12_CIPHER_SUITES };
  return {
    http: { routers, middlewares, services, serversTransports: { [PLATFORM_TRANSPORT]: { rootCAs: [input.caFile], forwardingTimeouts: BACKEND_FORWARDING_TIMEOUTS, ...(input.clientCertificate ? { certificates: [input.clientCertificate] } : {}) } } },
    tls: {
      // "default" too: it governs handshakes that match no router, which sniStrict then refuses.
      options: { default: tlsOptions, [TLS_OPTIONS]: tlsOptions },
      ...(input.certificate
        ? { certificates: [input.certificate], stores: { default: { defaultCertificate: input.certificate } } }
        : {}),
    },
  };
}

export function renderTraefikDynamic(input: TraefikDynamicInput): string {
  return `# Rendered by fundament (components/edge/traefik-dynamic.ts).\n${stringify(traefikDynamicConfig(input), { lineWidth: 0 })}`;
}
