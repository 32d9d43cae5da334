import * as pulumi from "@pulumi/pulumi";
import { Probe, Workload, WorkloadFile, WorkloadResources, WorkloadStorage } from "../runtime/workload";
import { GATEWAY_PORTS, PUBLIC_PORTS } from "./traefik-static";

export const GATEWAY_NAME = "gateway";
export const STATIC_CONFIG_PATH = "/etc/traefik/traefik.yml";
export const DYNAMIC_CONFIG_PATH = "/etc/traefik/dynamic.yml";
export const CA_FILE = "/etc/traefik/tls/ca.crt";
export const CERT_FILE = "/etc/traefik/tls/gateway.crt";
export const KEY_FILE = "/run/secrets/gateway/gateway.key";
/** The client certificate the gateway presents to Consul (its catalogue and its UI). */
export const CONSUL_CLIENT_CERT_FILE = "/etc/traefik/tls/consul-client.crt";
export const CONSUL_CLIENT_KEY_FILE = "/run/secrets/gateway/consul-client.key";
export const ACME_DIR = "/var/lib/traefik";
export const ACME_STORAGE = `${ACME_DIR}/acme.json`;

/**
 * The official image sets no USER (root). Traefik is one static binary that binds unprivileged
 * ports here and writes only its ACME file, so it runs as an unnamed uid; fsGroup (Kubernetes)
 * hands it the ACME volume.
 */
export const GATEWAY_USER = { uid: 10101, gid: 10101 };

export interface GatewayWorkloadInput {
  image: string;
  resources: WorkloadResources;
  replicas: number;
  /** Secret when it holds the Consul ACL token. */
  staticConfig: pulumi.Input<string>;
  staticConfigSecret: boolean;
  /** Holds the basic-auth users' bcrypt hashes: always a secret file. */
  dynamicConfig: pulumi.Input<string>;
  caCertificatePem: pulumi.Input<string>;
  /** The served certificate and key, absent with ACME. */
  certificate?: { certificatePem: pulumi.Input<string>; privateKeyPem: pulumi.Input<string> };
  acme: boolean;
  /** The gateway's Consul client certificate and key (consulCatalog provider, Consul UI backend). */
  consulClient?: { certificatePem: pulumi.Input<string>; privateKeyPem: pulumi.Input<string> };
  /** Extra secret files (the ACME DNS provider's credentials) and the variables naming them. */
  secretFiles: WorkloadFile[];
  env: Record<string, string>;
}

const ping = (periodSeconds: number, failureThreshold: number): Probe => ({ kind: "http", port: GATEWAY_PORTS.ping, path: "/ping", periodSeconds, timeoutSeconds: 3, failureThreshold });

/**
 * Traefik as a Workload. It is the only workload with published ports: 80 and 443 outside, on
 * unprivileged listeners inside. It joins frontend (the services' APIs, the internet for ACME)
 * and monitoring (where admin UIs are offered, and where Prometheus scrapes its metrics).
 */
export function gatewayWorkload(input: GatewayWorkloadInput): Workload {
  const storage: WorkloadStorage[] = input.acme ? [{ name: "acme", path: ACME_DIR, sizeGiB: 1 }] : [];
  return {
    name: GATEWAY_NAME,
    role: "gateway",
    image: input.image,
    // The binary itself (on PATH in the library image), not the image's entrypoint script.
    command: ["traefik", `--configFile=${STATIC_CONFIG_PATH}`],
    zones: ["frontend", "monitoring"],
    ports: [
      // Offered in both zones: inside the cluster, members reach the gateway as anyone outside does.
      { name: "web", port: GATEWAY_PORTS.web, publish: "host", hostPort: PUBLIC_PORTS.web, zones: ["frontend", "monitoring"] },
      { name: "websecure", port: GATEWAY_PORTS.websecure, publish: "host", hostPort: PUBLIC_PORTS.websecure, zones: ["frontend", "monitoring"] },
      { name: "metrics", port: GATEWAY_PORTS.metrics, zones: ["monitoring"] },
      // For probes only (the kubelet, or Docker inside the container): offered to no zone.
      { name: "ping", port: GATEWAY_PORTS.ping, zones: [] },
    ],
    env: input.env,
    files: [
      { path: STATIC_CONFIG_PATH, content: input.staticConfig, ...(input.staticConfigSecret ? { secret: true } : {}) },
      { path: DYNAMIC_CONFIG_PATH, content: input.dynamicConfig, secret: true },
      { path: CA_FILE, content: input.caCertificatePem },
      ...(input.certificate
        ? [
            { path: CERT_FILE, content: input.certificate.certificatePem },
            { path: KEY_FILE, content: input.certificate.privateKeyPem, secret: true },
          ]
        : []),
      ...(input.consulClient
        ? [
            { path: CONSUL_CLIENT_CERT_FILE, content: input.consulClient.certificatePem },
            { path: CONSUL_CLIENT_KEY_FILE, content: pulumi.secret(input.consulClient.privateKeyPem), secret: true },
          ]
        : []),
      ...input.secretFiles,
    ],
    health: { startup: { ...ping(2, 30) }, readiness: ping(5, 2), liveness: ping(10, 6) },
    resources: input.resources,
    storage,
    replicas: input.replicas,
    // Traefik finishes in-flight requests within its lifeCycle.graceTimeOut (10 s by default).
    stopGracePeriodSeconds: 30,
    metrics: { port: GATEWAY_PORTS.metrics, path: "/metrics" },
    user: GATEWAY_USER,
    readOnlyRootFilesystem: true,
  };
}
