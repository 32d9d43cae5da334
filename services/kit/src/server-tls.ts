import { env, EnvError } from "./env";

/**
 * The variables that make a service serve HTTPS: its leaf certificate from the platform CA and
 * the leaf's key, each delivered as a file (`TLS_CERT_FILE`, `TLS_KEY_FILE`, the key mode 0400).
 * Both set: the API and metrics listeners serve HTTPS only. Neither: plain HTTP, for local runs
 * and tests. One alone is refused at start-up, naming the missing one.
 */
export const serverTlsEnv = {
  TLS_CERT: env.pairedWith(
    "TLS_KEY",
    env.optional(env.certificate({ description: "this service's certificate (PEM, the platform CA's leaf); with TLS_KEY_FILE the listeners serve HTTPS" })),
  ),
  TLS_KEY: env.pairedWith("TLS_CERT", env.optional(env.secretFile({ description: "the private key of TLS_CERT (PEM)" }))),
  TLS_SERVER_NAME: env.optional(
    env.string({ description: "a DNS name the certificate carries, which Consul's readiness check verifies (it dials an address); default: the service's name" }),
  ),
};

export interface ServerTlsEnvValues {
  TLS_CERT?: string | undefined;
  TLS_KEY?: string | undefined;
  TLS_SERVER_NAME?: string | undefined;
}

/** The certificate and key to serve with, or undefined for plain HTTP. */
export function serverTlsFromEnv(values: ServerTlsEnvValues): { cert: string; key: string } | undefined {
  if (values.TLS_CERT === undefined && values.TLS_KEY === undefined) return undefined;
  if (values.TLS_CERT === undefined) throw new EnvError(["TLS_CERT_FILE: is required when TLS_KEY_FILE is set; set both or neither"]);
  if (values.TLS_KEY === undefined) throw new EnvError(["TLS_KEY_FILE: is required when TLS_CERT_FILE is set; set both or neither"]);
  return { cert: values.TLS_CERT, key: values.TLS_KEY };
}
