import { stringify } from "yaml";
import type { AcmeChallenge, TraefikEntryPoint, TraefikStaticConfig } from "./traefik-config-types";

/** Where the gateway's listeners are inside its container: unprivileged ports, published as 80 and 443. */
export const GATEWAY_PORTS = { web: 8080, websecure: 8443, ping: 8082, metrics: 9100 } as const;
export const PUBLIC_PORTS = { web: 80, websecure: 443 } as const;

/** The TLS options every router of the gateway names (dynamic configuration). */
export const TLS_OPTIONS = "modern";
export const ACME_RESOLVER = "letsencrypt";

/**
 * How long the gateway keeps an idle connection to a backend. Below the services' keep-alive
 * (72 s, the kit's KEEP_ALIVE_TIMEOUT_MS): the side that closes an idle connection must be the
 * gateway, or a request it sends as a service closes that connection fails with a 502 (Go retries
 * only idempotent requests). Traefik's default, 90 s, is above it.
 */
export const BACKEND_IDLE_TIMEOUT_SECONDS = 60;
export const BACKEND_FORWARDING_TIMEOUTS = { idleConnTimeout: `${BACKEND_IDLE_TIMEOUT_SECONDS}s` } as const;

/**
 * Headers that carry credentials: the access log never holds them, in requests or responses
 * (Traefik applies the names to both).
 */
export const DROPPED_LOG_HEADERS = ["Authorization", "Cookie", "Proxy-Authorization", "Set-Cookie"] as const;

export interface ConsulCatalogInput {
  /** host:port of Consul's HTTPS API. */
  address: string;
  /**
   * Traefik's ACL token. Traefik reads it only from its static configuration (the provider has no
   * token-file option), so the static file holding it is delivered as a secret file.
   */
  token: string;
  /** The platform CA, which signs Consul's certificate. */
  caFile: string;
  /** Traefik's client certificate and key: Consul's HTTPS API verifies clients (verify_incoming). */
  certFile: string;
  keyFile: string;
}

export interface AcmeInput {
  email: string;
  caServer: string;
  /** A file on the gateway's volume: ACME state must survive a restart. */
  storage: string;
  challenge: { kind: "tls" } | { kind: "dns"; provider: string };
}

export interface TraefikStaticInput {
  dynamicConfigPath: string;
  /** The platform CA: verifies the services' certificates (HTTPS between gateway and services). */
  caFile: string;
  consul?: ConsulCatalogInput;
  acme?: AcmeInput;
  /** Sources whose PROXY protocol header is believed (the load balancer's subnets); none on Docker. */
  proxyProtocolTrustedIPs?: string[];
}

function entryPoint(port: number, input: TraefikStaticInput, extra: Partial<TraefikEntryPoint> = {}): TraefikEntryPoint {
  return {
    address: `:${port}`,
    ...(input.proxyProtocolTrustedIPs && input.proxyProtocolTrustedIPs.length > 0 ? { proxyProtocol: { trustedIPs: input.proxyProtocolTrustedIPs } } : {}),
    ...extra,
  };
}

/** The static configuration as data: what the renderer writes and the tests read back. */
export function traefikStaticConfig(input: TraefikStaticInput): TraefikStaticConfig {
  const challenge: AcmeChallenge | undefined = input.acme
    ? input.acme.challenge.kind === "tls"
      ? { tlsChallenge: {} }
      : { dnsChallenge: { provider: input.acme.challenge.provider } }
    : undefined;
  return {
    // The gateway has no business calling home.
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    entryPoints: {
      // Traefik redirects to a named entry point's own port (8443, inside the container), which
      // nobody outside can reach: the target is the port websecure is published on.
      web: entryPoint(GATEWAY_PORTS.web, input, { http: { redirections: { entryPoint: { to: `:${PUBLIC_PORTS.websecure}`, scheme: "https", permanent: true } } } }),
      websecure: entryPoint(GATEWAY_PORTS.websecure, input, {
        http: { tls: { options: TLS_OPTIONS, ...(input.acme ? { certResolver: ACME_RESOLVER } : {}) } },
      }),
      ping: { address: `:${GATEWAY_PORTS.ping}` },
      metrics: { address: `:${GATEWAY_PORTS.metrics}` },
    },
    providers: {
      file: { filename: input.dynamicConfigPath, watch: false },
      ...(input.consul
        ? {
            consulCatalog: {
              // Only services that ask for a route (tag traefik.enable=true) get one.
              exposedByDefault: false,
              prefix: "traefik",
              endpoint: { address: input.consul.address, scheme: "https", token: input.consul.token, tls: { ca: input.consul.caFile, cert: input.consul.certFile, key: input.consul.keyFile } },
            },
          }
        : {}),
    },
    // The dashboard is served only through a router on websecure, behind basic auth.
    api: { dashboard: true, insecure: false },
    ping: { entryPoint: "ping" },
    metrics: { prometheus: { entryPoint: "metrics", addEntryPointsLabels: true, addRoutersLabels: true, addServicesLabels: true } },
    log: { level: "INFO", format: "json" },
    // No filePath: stdout, where the runtime collects it.
    accessLog: {
      format: "json",
      fields: { defaultMode: "keep", headers: { defaultMode: "keep", names: Object.fromEntries(DROPPED_LOG_HEADERS.map((name) => [name, "drop" as const])) } },
    },
    serversTransport: { rootCAs: [input.caFile], forwardingTimeouts: BACKEND_FORWARDING_TIMEOUTS },
    ...(input.acme && challenge
      ? { certificatesResolvers: { [ACME_RESOLVER]: { acme: { email: input.acme.email, storage: input.acme.storage, caServer: input.acme.caServer, ...challenge } } } }
      : {}),
  };
}

export function renderTraefikStatic(input: TraefikStaticInput): string {
  return `# Rendered by fundament (components/edge/traefik-static.ts).\n${stringify(traefikStaticConfig(input), { lineWidth: 0 })}`;
}
