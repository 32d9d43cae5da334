import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PinnedChart } from "../gpu/chart-versions";
import { workloadIngressPolicy } from "../network/zone-policies";
import { KUBERNETES_API_LABEL, zoneLabel } from "../runtime/kubernetes-pod";
import { ScrapeTarget } from "./scrape-targets";

/**
 * kube-state-metrics has no Docker counterpart (it reads the Kubernetes API), so it comes from its
 * maintainers' chart, pinned. 8.4.0 ships kube-state-metrics v2.20.0 (its appVersion, the image
 * tag the chart uses when image.tag is empty); read at prometheus-community/helm-charts
 * charts/kube-state-metrics (values.yaml, templates/deployment.yaml, _helpers.tpl).
 */
export const KUBE_STATE_METRICS_CHART = {
  chart: "kube-state-metrics",
  version: "8.4.0",
  repo: "https://prometheus-community.github.io/helm-charts",
} as const satisfies PinnedChart;

/** The chart's service.port, which is also its container's --port (the metrics); 8081 is its own telemetry. */
export const KUBE_STATE_METRICS_PORT = 8080;
const NAME = "kube-state-metrics";

/**
 * Values for the chart. podLabels put the pod in the monitoring zone and let it reach the API
 * server (allow-kubernetes-api); they must not repeat a label the chart sets itself
 * (app.kubernetes.io/name, instance, part-of, ...), or the rendered YAML has a duplicate key.
 */
export function kubeStateMetricsValues(nodeSelector?: Record<string, string>): Record<string, unknown> {
  const resources = { cpu: "100m", memory: "192Mi" };
  return {
    // Deployment, Service and ServiceAccount are all named kube-state-metrics, whatever the release.
    fullnameOverride: NAME,
    // No prometheus.io/scrape annotation: Prometheus here finds its targets by pod label.
    prometheusScrape: false,
    replicas: 1,
    service: { port: KUBE_STATE_METRICS_PORT, type: "ClusterIP" },
    podLabels: { [zoneLabel("monitoring")]: "true", [KUBERNETES_API_LABEL]: "true", "fundament.io/role": "exporter" },
    resources: { requests: resources, limits: resources },
    selfMonitor: { enabled: false },
    ...(nodeSelector ? { nodeSelector } : {}),
  };
}

/** What Prometheus scrapes: every kube-state-metrics pod of the platform namespace, by its chart's name label. */
export const KUBE_STATE_METRICS_TARGET: ScrapeTarget = {
  name: NAME,
  port: KUBE_STATE_METRICS_PORT,
  path: "/metrics",
  role: "exporter",
  service: NAME,
  zones: ["monitoring"],
  replicas: 1,
};

export interface KubeStateMetricsArgs {
  namespace: string;
  provider?: k8s.Provider;
  nodeSelector?: Record<string, string>;
  /** Something that exists only once the namespace does. */
  dependsOn?: pulumi.Resource[];
}

/**
 * kube-state-metrics in the platform namespace (its pods meet the namespace's baseline Pod
 * Security: the chart runs it as 65534, read-only, capabilities dropped, RuntimeDefault seccomp),
 * with the ingress policy the zone rule gives a monitoring-zone metrics port.
 */
export class KubeStateMetrics extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: KubeStateMetricsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:monitoring:KubeStateMetrics", name, {}, opts);
    const chart = KUBE_STATE_METRICS_CHART;
    this.release = new k8s.helm.v3.Release(
      name,
      {
        name: NAME,
        chart: chart.chart,
        version: chart.version,
        repositoryOpts: { repo: chart.repo },
        namespace: args.namespace,
        values: kubeStateMetricsValues(args.nodeSelector),
        atomic: true,
        cleanupOnFail: true,
        timeout: 600,
      },
      { parent: this, provider: args.provider, dependsOn: args.dependsOn },
    );
    const ingress = workloadIngressPolicy({ name: NAME, zones: ["monitoring"], ports: [{ name: "http", port: KUBE_STATE_METRICS_PORT, zones: ["monitoring"] }] });
    if (ingress) {
      new k8s.networking.v1.NetworkPolicy(
        `${name}-ingress`,
        { metadata: { name: ingress.name, namespace: args.namespace, labels: { "app.kubernetes.io/part-of": "fundament" } }, spec: ingress.spec },
        { parent: this, provider: args.provider, dependsOn: args.dependsOn },
      );
    }
    this.registerOutputs({});
  }
}
