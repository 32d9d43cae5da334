import * as pulumi from "@pulumi/pulumi";
import { adminRoute, Probe, Workload, WorkloadFile } from "../runtime/workload";
import { GRAFANA_DASHBOARDS_DIR, GRAFANA_PROVISIONING_DIR } from "./grafana-provisioning";
import { JAEGER_DATA_DIR, JAEGER_PORTS } from "./jaeger-config";

export const PROMETHEUS_PORT = 9090;
export const ALERTMANAGER_PORT = 9093;
export const GRAFANA_PORT = 3000;

/** The prom/* images run as nobody (USER nobody in their Dockerfiles). */
const NOBODY = { uid: 65534, gid: 65534 };
/** grafana/grafana runs as 472 (group root, which owns /var/lib/grafana in the image). */
const GRAFANA_USER = { uid: 472, gid: 0 };
/** jaegertracing/jaeger: USER 10001 in cmd/jaeger/Dockerfile. */
const JAEGER_USER = { uid: 10001, gid: 10001 };

/** Kept for the layers that import it from here; the definition lives beside WorkloadRoute. */
export { adminRoute };

const http = (port: number, path: string, periodSeconds = 10): Probe => ({ kind: "http", port, path, periodSeconds, timeoutSeconds: 5, failureThreshold: 3 });

export interface PrometheusWorkloadInput {
  image: string;
  domain: string;
  config: pulumi.Input<string>;
  rules: pulumi.Input<string>;
  retentionDays: number;
  storageGiB: number;
  resources: { cpu: number; memoryMiB: number };
  /** Certificates and tokens the scrape of some targets needs (ScrapeTarget.access). */
  scrapeFiles?: WorkloadFile[];
  /** Kubernetes: the ServiceAccount pod discovery lists pods as. */
  serviceAccount?: string;
}

export const PROMETHEUS_CONFIG_PATH = "/etc/prometheus/prometheus.yml";
export const PROMETHEUS_RULES_PATH = "/etc/prometheus/rules/alerts.yml";

/** TSDB size retention: 90% of the volume, so compaction has room before the disk is full. */
export function retentionSizeMiB(storageGiB: number): number {
  return Math.floor(storageGiB * 1024 * 0.9);
}

export function prometheusWorkload(input: PrometheusWorkloadInput): Workload {
  return {
    name: "prometheus",
    role: "monitoring",
    image: input.image,
    // The image's ENTRYPOINT is /bin/prometheus; these replace its default CMD. No
    // --web.enable-admin-api and no --web.enable-lifecycle: nobody deletes series or stops it over HTTP.
    args: [
      `--config.file=${PROMETHEUS_CONFIG_PATH}`,
      "--storage.tsdb.path=/prometheus",
      `--storage.tsdb.retention.time=${input.retentionDays}d`,
      `--storage.tsdb.retention.size=${retentionSizeMiB(input.storageGiB)}MB`,
      `--web.listen-address=:${PROMETHEUS_PORT}`,
      `--web.external-url=http://prometheus.${input.domain}/`,
      "--web.route-prefix=/",
    ],
    zones: ["monitoring"],
    ports: [{ name: "http", port: PROMETHEUS_PORT, publish: "gateway", zones: ["monitoring"] }],
    files: [
      { path: PROMETHEUS_CONFIG_PATH, content: input.config },
      { path: PROMETHEUS_RULES_PATH, content: input.rules },
      ...(input.scrapeFiles ?? []),
    ],
    health: { startup: { ...http(PROMETHEUS_PORT, "/-/ready", 5), failureThreshold: 60 }, readiness: http(PROMETHEUS_PORT, "/-/ready"), liveness: http(PROMETHEUS_PORT, "/-/healthy") },
    resources: input.resources,
    storage: [{ name: "data", path: "/prometheus", sizeGiB: input.storageGiB }],
    stopGracePeriodSeconds: 60,
    metrics: { port: PROMETHEUS_PORT, path: "/metrics" },
    route: adminRoute("prometheus", input.domain),
    ...(input.serviceAccount === undefined ? {} : { serviceAccount: input.serviceAccount }),
    user: NOBODY,
    readOnlyRootFilesystem: true,
  };
}

export interface AlertmanagerWorkloadInput {
  image: string;
  domain: string;
  config: pulumi.Input<string>;
  /** Receiver credentials, each a secret file the config names. */
  secretFiles: WorkloadFile[];
}

export const ALERTMANAGER_CONFIG_PATH = "/etc/alertmanager/alertmanager.yml";

export function alertmanagerWorkload(input: AlertmanagerWorkloadInput): Workload {
  return {
    name: "alertmanager",
    role: "monitoring",
    image: input.image,
    args: [
      `--config.file=${ALERTMANAGER_CONFIG_PATH}`,
      "--storage.path=/alertmanager",
      `--web.listen-address=:${ALERTMANAGER_PORT}`,
      `--web.external-url=http://alertmanager.${input.domain}/`,
      "--web.route-prefix=/",
      // One instance: no gossip port to open or protect.
      "--cluster.listen-address=",
    ],
    zones: ["monitoring"],
    ports: [{ name: "http", port: ALERTMANAGER_PORT, publish: "gateway", zones: ["monitoring"] }],
    files: [{ path: ALERTMANAGER_CONFIG_PATH, content: input.config }, ...input.secretFiles],
    health: { readiness: http(ALERTMANAGER_PORT, "/-/ready"), liveness: http(ALERTMANAGER_PORT, "/-/healthy") },
    resources: { cpu: 0.25, memoryMiB: 128 },
    // Silences and the notification log survive a restart, so nothing is paged twice.
    storage: [{ name: "data", path: "/alertmanager", sizeGiB: 1 }],
    stopGracePeriodSeconds: 30,
    metrics: { port: ALERTMANAGER_PORT, path: "/metrics" },
    route: adminRoute("alertmanager", input.domain),
    user: NOBODY,
    readOnlyRootFilesystem: true,
  };
}

export interface GrafanaWorkloadInput {
  image: string;
  domain: string;
  datasources: string;
  dashboardProvider: string;
  /** File name to dashboard JSON. */
  dashboards: Record<string, string>;
  adminPassword: pulumi.Input<string>;
}

export const GRAFANA_ADMIN_PASSWORD_PATH = "/run/secrets/grafana-admin-password";

export function grafanaWorkload(input: GrafanaWorkloadInput): Workload {
  return {
    name: "grafana",
    role: "monitoring",
    image: input.image,
    zones: ["monitoring"],
    ports: [{ name: "http", port: GRAFANA_PORT, publish: "gateway", zones: ["monitoring"] }],
    env: {
      GF_SECURITY_ADMIN_USER: "admin",
      GF_SECURITY_ADMIN_PASSWORD__FILE: GRAFANA_ADMIN_PASSWORD_PATH,
      GF_AUTH_ANONYMOUS_ENABLED: "false",
      GF_AUTH_BASIC_ENABLED: "true",
      GF_USERS_ALLOW_SIGN_UP: "false",
      GF_USERS_ALLOW_ORG_CREATE: "false",
      GF_SECURITY_DISABLE_GRAVATAR: "true",
      GF_SECURITY_COOKIE_SECURE: "true",
      // The monitoring zone has no route out: no update checks, no usage reports.
      GF_ANALYTICS_REPORTING_ENABLED: "false",
      GF_ANALYTICS_CHECK_FOR_UPDATES: "false",
      GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES: "false",
      GF_PLUGINS_PREINSTALL_DISABLED: "true",
      GF_PATHS_PROVISIONING: GRAFANA_PROVISIONING_DIR,
      GF_SERVER_HTTP_PORT: String(GRAFANA_PORT),
      GF_SERVER_ROOT_URL: `https://grafana.${input.domain}/`,
    },
    files: [
      { path: GRAFANA_ADMIN_PASSWORD_PATH, content: input.adminPassword, secret: true },
      { path: `${GRAFANA_PROVISIONING_DIR}/datasources/fundament.yaml`, content: input.datasources },
      { path: `${GRAFANA_PROVISIONING_DIR}/dashboards/fundament.yaml`, content: input.dashboardProvider },
      ...Object.entries(input.dashboards).map(([file, json]) => ({ path: `${GRAFANA_DASHBOARDS_DIR}/${file}`, content: json })),
    ],
    // Liveness gives a busy Grafana twice as long as readiness before a restart.
    health: { startup: { ...http(GRAFANA_PORT, "/api/health", 5), failureThreshold: 60 }, readiness: http(GRAFANA_PORT, "/api/health"), liveness: { ...http(GRAFANA_PORT, "/api/health"), failureThreshold: 6 } },
    resources: { cpu: 0.5, memoryMiB: 256 },
    storage: [{ name: "data", path: "/var/lib/grafana", sizeGiB: 1 }],
    stopGracePeriodSeconds: 30,
    metrics: { port: GRAFANA_PORT, path: "/metrics" },
    route: adminRoute("grafana", input.domain),
    user: GRAFANA_USER,
    readOnlyRootFilesystem: true,
  };
}

export interface JaegerWorkloadInput {
  image: string;
  domain: string;
  config: string;
  storageGiB: number;
}

export const JAEGER_CONFIG_PATH = "/etc/jaeger/config.yaml";

export function jaegerWorkload(input: JaegerWorkloadInput): Workload {
  return {
    name: "jaeger",
    role: "monitoring",
    image: input.image,
    args: [`--config=${JAEGER_CONFIG_PATH}`],
    zones: ["monitoring"],
    // Every port in the monitoring zone, the only one these workloads join: Grafana reads the
    // UIs' APIs, Prometheus scrapes, the services (members for their metrics) send spans.
    ports: [
      { name: "http", port: JAEGER_PORTS.ui, publish: "gateway", zones: ["monitoring"] },
      { name: "otlp-grpc", port: JAEGER_PORTS.otlpGrpc, zones: ["monitoring"] },
      { name: "otlp-http", port: JAEGER_PORTS.otlpHttp, zones: ["monitoring"] },
      { name: "metrics", port: JAEGER_PORTS.metrics, zones: ["monitoring"] },
      // For probes and Consul's check only (zoneRuleAdmits): offered to no zone.
      { name: "health", port: JAEGER_PORTS.health, zones: [] },
    ],
    files: [{ path: JAEGER_CONFIG_PATH, content: input.config }],
    health: { readiness: http(JAEGER_PORTS.health, "/status"), liveness: { ...http(JAEGER_PORTS.health, "/status"), failureThreshold: 6 } },
    resources: { cpu: 0.5, memoryMiB: 512 },
    storage: [{ name: "data", path: JAEGER_DATA_DIR, sizeGiB: input.storageGiB }],
    stopGracePeriodSeconds: 30,
    metrics: { port: JAEGER_PORTS.metrics, path: "/metrics" },
    route: adminRoute("jaeger", input.domain),
    user: JAEGER_USER,
    // The volume sits on the image's /tmp (its only writable directory, mode 1777, which Docker
    // copies into a new volume): a volume elsewhere would be root's and unwritable for 10001.
    // A read-only root would put a tmpfs on that same /tmp.
    readOnlyRootFilesystem: false,
  };
}

/** The OTLP/HTTP endpoint services export spans to (the kit appends /v1/traces). */
export const OTLP_HTTP_ENDPOINT = `http://jaeger:${JAEGER_PORTS.otlpHttp}`;
