import type { ConsulConnection } from "./consul-http";
import { env } from "./env";

/**
 * The Consul variables every service reads, named as Consul's own CLI names them. Token, CA,
 * client certificate and key each arrive as a file (`*_FILE`), as the platform delivers every
 * file it gives a service. Registration and discovery through Consul are off when
 * CONSUL_HTTP_ADDR is unset (discovery then uses the workloads' DNS names).
 */
export const consulEnv = {
  CONSUL_HTTP_ADDR: env.optional(env.url({ protocols: ["http", "https"], description: "Consul's HTTP API; registration and discovery through Consul are off when unset" })),
  CONSUL_HTTP_TOKEN: env.optional(env.secretFile({ description: "Consul ACL token (service:write on this service, read on what it discovers)" })),
  CONSUL_SERVICE_ADDRESS: env.optional(env.string({ description: "address other services dial (default: the host name)" })),
  CONSUL_CACERT: env.optional(env.secretFile({ description: "the CA certificate Consul's HTTPS certificate is verified against (PEM)" })),
  CONSUL_CLIENT_CERT: env.optional(env.secretFile({ description: "this workload's client certificate (PEM; Consul verifies incoming HTTPS clients)" })),
  CONSUL_CLIENT_KEY: env.optional(env.secretFile({ description: "the client certificate's private key" })),
};

export interface ConsulEnvValues {
  CONSUL_HTTP_ADDR?: string | undefined;
  CONSUL_HTTP_TOKEN?: string | undefined;
  CONSUL_CACERT?: string | undefined;
  CONSUL_CLIENT_CERT?: string | undefined;
  CONSUL_CLIENT_KEY?: string | undefined;
}

/** The connection the variables describe, or undefined when Consul is not configured. */
export function consulConnectionFromEnv(values: ConsulEnvValues): ConsulConnection | undefined {
  if (values.CONSUL_HTTP_ADDR === undefined) return undefined;
  const https = values.CONSUL_HTTP_ADDR.startsWith("https:");
  if (https && (values.CONSUL_CLIENT_CERT === undefined) !== (values.CONSUL_CLIENT_KEY === undefined)) {
    throw new Error("CONSUL_CLIENT_CERT_FILE and CONSUL_CLIENT_KEY_FILE: set both or neither");
  }
  const tls = https
    ? {
        ...(values.CONSUL_CACERT === undefined ? {} : { ca: values.CONSUL_CACERT }),
        ...(values.CONSUL_CLIENT_CERT === undefined ? {} : { cert: values.CONSUL_CLIENT_CERT }),
        ...(values.CONSUL_CLIENT_KEY === undefined ? {} : { key: values.CONSUL_CLIENT_KEY }),
      }
    : undefined;
  return { url: values.CONSUL_HTTP_ADDR, ...(values.CONSUL_HTTP_TOKEN === undefined ? {} : { token: values.CONSUL_HTTP_TOKEN }), ...(tls ? { tls } : {}) };
}

/**
 * The URL of `template` with its host and port replaced by one of `service`'s passing instances
 * (spread over them in turn), or the template itself when discovery falls back to DNS.
 */
export function discoveredUrl(template: string, instances: { address: string; port: number }[], turn: number): string {
  if (instances.length === 0) throw new Error(`no passing instance for ${template}`);
  const instance = instances[turn % instances.length];
  const url = new URL(template);
  url.hostname = instance.address;
  url.port = String(instance.port);
  return url.toString();
}
