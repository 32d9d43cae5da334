import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { LeafCertificate } from "../pki/platform-pki";
import { caFile } from "../pki/tls-files";
import { OTLP_HTTP_ENDPOINT } from "../monitoring/monitoring-workloads";
import { NODE_SERVICE_IMAGE_FACTS } from "../runtime/image-facts";
import { DeployedWorkload, HttpsProbe, MetricsAccess, Probe, Runtime, WorkloadFile, WorkloadResources, WorkloadRoute, WorkloadStorage } from "../runtime/workload";
import { ImageRegistry, ServiceImage } from "./service-image";

/** Where a service's secret files live inside its container. */
export const SECRETS_DIR = "/run/secrets";
/**
 * Where a service and its migration job find the platform CA: every TLS connection they open
 * (PostgreSQL, Redis, RabbitMQ) verifies its server against it. Public, so a plain file.
 */
export const SERVICE_CA_FILE = "/etc/fundament/tls/ca.crt";
/** The service's own leaf, which both its listeners serve HTTPS with (public, beside the CA). */
export const SERVICE_CERT_FILE = "/etc/fundament/tls/tls.crt";
/** The leaf's key: a secret file readable by the service's user only. */
export const SERVICE_KEY_FILE = `${SECRETS_DIR}/tls.key`;
/** Where Prometheus finds the platform CA it verifies the services' metrics listeners against. */
export const PROMETHEUS_SERVICE_CA_FILE = "/etc/prometheus/tls/platform-ca.crt";
export const HTTP_PORT = 8080;
export const METRICS_PORT = 9464;
/** The node image's unprivileged user, which the services' Dockerfiles switch to (USER 1000:1000). */
export const SERVICE_USER = { uid: 1000, gid: 1000 };

export interface FastifyServiceArgs {
  runtime: Runtime;
  /** Folder under services/ and the workload's DNS name. */
  service: string;
  image: string;
  registry: ImageRegistry;
  /** Stack environment, which names the image repository. */
  environment: string;
  /** The stack's Docker provider, which builds the image (absent: DOCKER_HOST or the local socket). */
  dockerProvider?: docker.Provider;
  resources: WorkloadResources;
  replicas: number;
  /** A HorizontalPodAutoscaler owns the replica count from `replicas` up (Kubernetes). */
  autoscaled?: boolean;
  /** Plain settings; never a secret. */
  env: Record<string, pulumi.Input<string>>;
  /** Secret values, each delivered as /run/secrets/<name> and announced as <VARIABLE>_FILE. */
  secrets: Record<string, { variable: string; value: pulumi.Input<string> }>;
  /** The platform CA (PEM), delivered to the service and its migration job at SERVICE_CA_FILE. */
  caCertPem: pulumi.Input<string>;
  /**
   * The service's leaf of the platform CA, for the names clients dial (its workload name): the API
   * and metrics listeners serve HTTPS with it, so the gateway, Prometheus, Consul's check and the
   * other services verify it against the CA.
   */
  leaf: Pick<LeafCertificate, "certPem" | "keyPem">;
  /** Workloads that must be healthy before the service (and its migrations) start. */
  dependsOn: DeployedWorkload[];
  /** The migration job's settings (database only). */
  migrationEnv: Record<string, pulumi.Input<string>>;
  migrationSecrets: string[];
  /** A volume the service keeps state in (gpu-jobs' local provider in dev). */
  storage?: WorkloadStorage[];
  /** Kubernetes ServiceAccount the service runs as (gpu-jobs creates Jobs through it). */
  serviceAccount?: string;
  /** Where the gateway serves the API (its `http` port). */
  route?: WorkloadRoute;
  /** Share of the traces the service starts that it records (monitoring.traceSampleRatio). */
  traceSampleRatio: number;
}

function secretFiles(secrets: FastifyServiceArgs["secrets"], names: string[]): { files: WorkloadFile[]; env: Record<string, string> } {
  const files = names.map((name) => ({ path: `${SECRETS_DIR}/${name}`, content: secrets[name].value, secret: true, mode: 0o400 }));
  const env = Object.fromEntries(names.map((name) => [`${secrets[name].variable}_FILE`, `${SECRETS_DIR}/${name}`]));
  return { files, env };
}

/**
 * One Fastify service on the stack: its image, a one-shot migration job that must succeed first,
 * and the service workload in frontend (reached through the gateway) and backend (its data).
 */
export class FastifyService extends pulumi.ComponentResource {
  readonly workload: DeployedWorkload;
  readonly migrations: DeployedWorkload;

  constructor(name: string, args: FastifyServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:services:FastifyService", name, {}, opts);
    const image = new ServiceImage(`${name}-image`, { service: args.service, environment: args.environment, image: args.image, registry: args.registry, dockerProvider: args.dockerProvider }, { parent: this });
    const common = {
      image: image.reference,
      localImage: image.local,
      imageFacts: NODE_SERVICE_IMAGE_FACTS,
      user: SERVICE_USER,
      readOnlyRootFilesystem: true,
      resources: args.resources,
    };
    const migration = secretFiles(args.secrets, args.migrationSecrets);
    const ca = caFile(SERVICE_CA_FILE, args.caCertPem);
    this.migrations = args.runtime.run(
      {
        ...common,
        name: `${args.service}-migrate`,
        role: "job",
        command: ["node", `services/${args.service}/dist/migrate.js`],
        zones: ["backend"],
        env: { ...args.migrationEnv, ...migration.env },
        files: [ca, ...migration.files],
        stopGracePeriodSeconds: 30,
        backoffLimit: 3,
        dependsOn: args.dependsOn,
      },
      { parent: this, dependsOn: [image] },
    );
    const all = secretFiles(args.secrets, Object.keys(args.secrets));
    const tlsFiles: WorkloadFile[] = [
      { path: SERVICE_CERT_FILE, content: args.leaf.certPem, mode: 0o444 },
      { path: SERVICE_KEY_FILE, content: args.leaf.keyPem, secret: true, mode: 0o400 },
    ];
    // The leaf carries the workload's name on both targets; the probe dials the loopback address.
    const https: HttpsProbe = { caFile: SERVICE_CA_FILE, serverName: args.service };
    const live: Probe = { kind: "http", port: HTTP_PORT, path: "/health/live", https, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 6 };
    const ready: Probe = { kind: "http", port: HTTP_PORT, path: "/health/ready", https, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 };
    // Prometheus dials a pod address on Kubernetes: it verifies the workload's name against the CA.
    const metricsAccess: MetricsAccess = { serverName: args.service, caFile: PROMETHEUS_SERVICE_CA_FILE, files: [caFile(PROMETHEUS_SERVICE_CA_FILE, args.caCertPem)] };
    this.workload = args.runtime.deploy(
      {
        ...common,
        name: args.service,
        role: "service",
        command: ["node", `services/${args.service}/dist/server.js`],
        // Monitoring for the scrape, which reaches only the metrics port (the API stays frontend
        // and backend), and for the spans the service sends to Jaeger's OTLP port.
        zones: ["frontend", "backend", "monitoring"],
        ports: [
          { name: "http", port: HTTP_PORT, publish: "gateway" },
          { name: "metrics", port: METRICS_PORT, zones: ["monitoring"] },
        ],
        env: {
          PORT: String(HTTP_PORT),
          METRICS_PORT: String(METRICS_PORT),
          // Readiness turns 503 for one probe period before the listener closes (ready.periodSeconds).
          SHUTDOWN_PROBE_PERIOD_MS: "5000",
          SHUTDOWN_GRACE_PERIOD_MS: "20000",
          OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_HTTP_ENDPOINT,
          // Parent-based: a request whose caller recorded its trace is recorded, so a trace that
          // crosses services is whole in Jaeger or absent, never in pieces.
          OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
          OTEL_TRACES_SAMPLER_ARG: String(args.traceSampleRatio),
          TLS_CERT_FILE: SERVICE_CERT_FILE,
          TLS_KEY_FILE: SERVICE_KEY_FILE,
          ...args.env,
          ...all.env,
        },
        files: [ca, ...tlsFiles, ...all.files],
        health: { startup: { ...live, periodSeconds: 2, failureThreshold: 30 }, readiness: ready, liveness: live },
        replicas: args.replicas,
        ...(args.autoscaled === true ? { autoscaled: true } : {}),
        ...(args.storage ? { storage: args.storage } : {}),
        ...(args.serviceAccount ? { serviceAccount: args.serviceAccount } : {}),
        // The gateway dials https and verifies the leaf against the platform CA.
        ...(args.route ? { route: { ...args.route, tls: true } } : {}),
        stopGracePeriodSeconds: 30,
        metrics: { port: METRICS_PORT, path: "/metrics", access: metricsAccess },
        dependsOn: [...args.dependsOn, this.migrations],
      },
      { parent: this, dependsOn: [image] },
    );
    this.registerOutputs({});
  }
}
