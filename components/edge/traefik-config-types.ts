/**
 * The part of Traefik v3's configuration the gateway writes, typed after the project's reference
 * (docs/content/reference/static-configuration/file.yaml and dynamic-configuration/file.yaml,
 * generated from pkg/config/static and pkg/config/dynamic). Field names are Traefik's own; the
 * tests check every rendered key against the full reference, so a typo cannot reach a server.
 */

export interface TraefikClientTls {
  ca?: string;
  cert?: string;
  key?: string;
  insecureSkipVerify?: boolean;
}

export interface TraefikEntryPoint {
  address: string;
  /** Accept PROXY protocol headers from these sources (the load balancer), so client addresses survive it. */
  proxyProtocol?: { trustedIPs: string[] };
  forwardedHeaders?: { trustedIPs: string[] };
  http?: {
    redirections?: { entryPoint: { to: string; scheme: string; permanent: boolean } };
    tls?: { options?: string; certResolver?: string };
  };
}

/** Durations as Traefik reads them ("60s"). */
export interface TraefikForwardingTimeouts {
  idleConnTimeout?: string;
  dialTimeout?: string;
  responseHeaderTimeout?: string;
}

export type AcmeChallenge = { tlsChallenge: Record<string, never> } | { dnsChallenge: { provider: string } };

export interface TraefikStaticConfig {
  global: { checkNewVersion: boolean; sendAnonymousUsage: boolean };
  entryPoints: Record<string, TraefikEntryPoint>;
  providers: {
    file: { filename: string; watch: boolean };
    consulCatalog?: {
      exposedByDefault: boolean;
      prefix: string;
      endpoint: { address: string; scheme: string; token: string; tls: TraefikClientTls };
    };
  };
  api: { dashboard: boolean; insecure: boolean };
  ping: { entryPoint: string };
  metrics: { prometheus: { entryPoint: string; addEntryPointsLabels: boolean; addRoutersLabels: boolean; addServicesLabels: boolean } };
  log: { level: string; format: string };
  accessLog: {
    format: string;
    fields: { defaultMode: string; headers: { defaultMode: string; names: Record<string, "keep" | "drop" | "redact"> } };
  };
  serversTransport?: { rootCAs: string[]; forwardingTimeouts?: TraefikForwardingTimeouts };
  certificatesResolvers?: Record<string, { acme: { email: string; storage: string; caServer: string } & AcmeChallenge }>;
}

export interface TraefikRouter {
  rule: string;
  entryPoints: string[];
  service: string;
  middlewares: string[];
  tls: { options?: string; certResolver?: string };
  priority?: number;
}

export type TraefikMiddleware =
  | { headers: Record<string, string | number | boolean | Record<string, string>> }
  | { rateLimit: { average: number; burst: number; period: string } }
  | { basicAuth: { users: string[]; realm: string; removeHeader: boolean } };

export interface TraefikService {
  loadBalancer: { servers: { url: string }[]; passHostHeader: boolean; serversTransport?: string };
}

export interface TraefikDynamicConfig {
  http: {
    routers: Record<string, TraefikRouter>;
    middlewares: Record<string, TraefikMiddleware>;
    services: Record<string, TraefikService>;
    serversTransports?: Record<string, { rootCAs: string[]; serverName?: string; certificates?: { certFile: string; keyFile: string }[]; forwardingTimeouts?: TraefikForwardingTimeouts }>;
  };
  tls: {
    options: Record<string, { minVersion: string; sniStrict: boolean; cipherSuites?: string[] }>;
    certificates?: { certFile: string; keyFile: string }[];
    stores?: Record<string, { defaultCertificate: { certFile: string; keyFile: string } }>;
  };
}
