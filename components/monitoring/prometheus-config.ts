import { stringify } from "yaml";
import { ScrapeTarget } from "./scrape-targets";

export interface PrometheusConfigInput {
  environment: string;
  /** Docker: one static target per container. Kubernetes: every pod of the workload, found by label. */
  discovery: { kind: "static" } | { kind: "kubernetes-pods"; namespace: string };
  scrapeIntervalSeconds: number;
  /** host:port of each Alertmanager. */
  alertmanagers: string[];
  ruleFiles: string[];
  targets: readonly ScrapeTarget[];
}

/** The zone Prometheus reaches every target in. */
const SCRAPE_ZONE = "monitoring";

type Relabel = Record<string, string | string[]>;

function targetLabels(environment: string, target: ScrapeTarget): Record<string, string> {
  return { service: target.service, zone: SCRAPE_ZONE, environment, role: target.role };
}

/** HTTPS verified against the target's CA, and the client certificate and bearer token of a target that wants them. */
function accessOf(target: ScrapeTarget): Record<string, unknown> {
  const access = target.access;
  if (!access) return {};
  if ((access.certFile === undefined) !== (access.keyFile === undefined)) throw new Error(`prometheus scrape target ${target.name}: certFile and keyFile go together`);
  return {
    scheme: "https",
    ...(access.params ? { params: access.params } : {}),
    tls_config: {
      ca_file: access.caFile,
      ...(access.certFile === undefined ? {} : { cert_file: access.certFile, key_file: access.keyFile }),
      server_name: access.serverName,
      min_version: "TLS12",
    },
    ...(access.credentialsFile === undefined ? {} : { authorization: { type: "Bearer", credentials_file: access.credentialsFile } }),
  };
}

function staticJob(environment: string, target: ScrapeTarget): Record<string, unknown> {
  return {
    job_name: target.name,
    metrics_path: target.path,
    ...accessOf(target),
    static_configs: [{ targets: [`${target.name}:${target.port}`], labels: targetLabels(environment, target) }],
  };
}

/**
 * Each pod is its own target (never the Service address, which would hand every scrape to a
 * different replica). instance is the pod name, so a restarted pod is a new series and a
 * replica's failure is visible on its own.
 */
function podJob(environment: string, namespace: string, target: ScrapeTarget): Record<string, unknown> {
  const relabel: Relabel[] = [
    { source_labels: ["__meta_kubernetes_pod_phase"], regex: "Running", action: "keep" },
    { source_labels: ["__meta_kubernetes_pod_container_port_number"], regex: String(target.port), action: "keep" },
    { source_labels: ["__meta_kubernetes_pod_name"], target_label: "instance" },
    ...Object.entries(targetLabels(environment, target)).map(([label, value]) => ({ target_label: label, replacement: value })),
  ];
  return {
    job_name: target.name,
    metrics_path: target.path,
    ...accessOf(target),
    kubernetes_sd_configs: [{ role: "pod", namespaces: { names: [target.namespace ?? namespace] }, selectors: [{ role: "pod", label: `app.kubernetes.io/name=${target.name}` }] }],
    relabel_configs: relabel,
  };
}

/** prometheus.yml: one scrape job per workload that declares a metrics endpoint. */
export function renderPrometheusConfig(input: PrometheusConfigInput): string {
  const interval = `${input.scrapeIntervalSeconds}s`;
  const names = input.targets.map((t) => t.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate) throw new Error(`prometheus scrape targets: ${duplicate} is declared twice`);
  const config = {
    global: {
      scrape_interval: interval,
      evaluation_interval: interval,
      // A scrape may take most of the interval, never longer than Prometheus's 10s default.
      scrape_timeout: `${Math.min(10, input.scrapeIntervalSeconds)}s`,
    },
    rule_files: input.ruleFiles,
    alerting: { alertmanagers: [{ static_configs: [{ targets: input.alertmanagers }] }] },
    scrape_configs: [...input.targets]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((target) => (input.discovery.kind === "static" ? staticJob(input.environment, target) : podJob(input.environment, input.discovery.namespace, target))),
  };
  return `# Rendered by fundament (components/monitoring/prometheus-config.ts).\n${stringify(config, { lineWidth: 0 })}`;
}
