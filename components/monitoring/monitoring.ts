import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { MonitoringConfig } from "../config/stack-config";
import { DeployedWorkload, Runtime } from "../runtime/workload";
import { renderAlertRules } from "./alert-rules";
import { resolveReceivers } from "./alert-receivers";
import { configuredReceivers, renderAlertmanagerConfig } from "./alertmanager-config";
import { renderDashboards } from "./dashboards";
import { renderGrafanaDashboardProvider, renderGrafanaDatasources } from "./grafana-provisioning";
import { JAEGER_PORTS, renderJaegerConfig } from "./jaeger-config";
import {
  ALERTMANAGER_PORT,
  alertmanagerWorkload,
  grafanaWorkload,
  jaegerWorkload,
  PROMETHEUS_PORT,
  PROMETHEUS_RULES_PATH,
  prometheusWorkload,
} from "./monitoring-workloads";
import { cadvisorWorkload, NODE_EXPORTER_PORT, nodeExporterWorkload } from "./host-exporters";
import { KUBE_STATE_METRICS_TARGET, KubeStateMetrics } from "./kube-state-metrics";
import { NodeAgents } from "./node-agents";
import { PROMETHEUS_SERVICE_ACCOUNT, PrometheusAccess } from "./prometheus-access";
import { renderPrometheusConfig } from "./prometheus-config";
import { ScrapeTarget, scrapeFilesOf, scrapeTargetOf } from "./scrape-targets";

export interface MonitoringArgs {
  runtime: Runtime;
  environment: string;
  domain: string;
  /** Kubernetes: the namespace whose pods Prometheus discovers. Docker: undefined (static targets). */
  namespace?: string;
  /** Kubernetes: the cluster's provider, for Prometheus' discovery role (absent: the kubeconfig's). */
  kubernetesProvider?: k8s.Provider;
  /**
   * Kubernetes, on a cluster the stack built: install kube-state-metrics (a cluster add-on), on
   * these nodes. Absent: a cluster someone else runs brings its own add-ons, and no chart is installed.
   */
  kubeStateMetrics?: { nodeSelector?: Record<string, string> };
  /** Every workload of the stack that declared a metrics endpoint (ScrapeTargetRegistry). */
  targets: readonly ScrapeTarget[];
  settings: MonitoringConfig;
}

export interface MonitoringUi {
  /** Where the gateway will serve it (its route), and where it answers inside the monitoring zone. */
  url: string;
  internal: pulumi.Output<string>;
}

/**
 * The monitoring layer: Prometheus scraping every workload that declares metrics, alert rules,
 * Alertmanager routing them to the configured receivers, Grafana with provisioned datasources
 * and dashboards, and Jaeger receiving the services' traces. All four live in the monitoring
 * zone, publish no port, and carry the route the gateway will serve them on.
 */
export class Monitoring extends pulumi.ComponentResource {
  readonly prometheus: DeployedWorkload;
  readonly alertmanager: DeployedWorkload;
  readonly grafana: DeployedWorkload;
  readonly jaeger: DeployedWorkload;
  /** Host metrics: a container on Docker, a DaemonSet in the node-agents namespace on Kubernetes. */
  readonly nodeExporter: DeployedWorkload;
  /** Per-container metrics on Docker (the kubelet has its own cAdvisor on Kubernetes). */
  readonly cadvisor?: DeployedWorkload;
  /** Kubernetes: object state (restarts, replicas) from the chart. */
  readonly kubeStateMetrics?: KubeStateMetrics;
  readonly grafanaAdminPassword: pulumi.Output<string>;
  readonly ui: Record<"prometheus" | "alertmanager" | "grafana" | "jaeger", MonitoringUi>;
  /** Receivers alerts reach besides the UI; empty means only the Alertmanager UI shows them. */
  readonly alertReceivers: string[];

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:monitoring:Monitoring", name, {}, opts);
    const s = args.settings;
    const parent = { parent: this };

    const jaeger = jaegerWorkload({ image: s.jaegerImage, domain: args.domain, config: renderJaegerConfig({ retentionHours: s.traceRetentionHours }), storageGiB: s.traceStorageGiB });
    this.jaeger = args.runtime.deploy(jaeger, parent);

    const resolved = resolveReceivers(s.receivers);
    this.alertReceivers = configuredReceivers(resolved.receivers);
    const alertmanager = alertmanagerWorkload({ image: s.alertmanagerImage, domain: args.domain, config: renderAlertmanagerConfig({ receivers: resolved.receivers }), secretFiles: resolved.files });
    this.alertmanager = args.runtime.deploy(alertmanager, parent);

    this.grafanaAdminPassword = pulumi.secret(new random.RandomPassword(`${name}-grafana-admin`, { length: 32, special: false }, parent).result);
    const grafana = grafanaWorkload({
      image: s.grafanaImage,
      domain: args.domain,
      datasources: renderGrafanaDatasources({
        prometheusUrl: `http://prometheus:${PROMETHEUS_PORT}`,
        alertmanagerUrl: `http://alertmanager:${ALERTMANAGER_PORT}`,
        jaegerUrl: `http://jaeger:${JAEGER_PORTS.ui}`,
      }),
      dashboardProvider: renderGrafanaDashboardProvider(s.dashboardFolder),
      dashboards: renderDashboards(),
      adminPassword: this.grafanaAdminPassword,
    });
    this.grafana = args.runtime.deploy(grafana, parent);

    // Host and container metrics. On Kubernetes the node agents sit in a namespace of their own
    // (NodeAgents says why), so their target names it; kube-state-metrics is scraped by pod label.
    const hostTargets: ScrapeTarget[] = [];
    const nodeExporter = nodeExporterWorkload(s.nodeExporterImage);
    if (args.namespace === undefined) {
      this.nodeExporter = args.runtime.deploy(nodeExporter, parent);
      const cadvisor = cadvisorWorkload(s.cadvisorImage);
      this.cadvisor = args.runtime.deploy(cadvisor, parent);
      hostTargets.push(...[nodeExporter, cadvisor].map(scrapeTargetOf).filter((t): t is ScrapeTarget => t !== undefined));
    } else {
      // The policies and the RoleBinding they create in the platform namespace wait for it through these.
      const inNamespace = [...this.alertmanager.resources];
      const agents = new NodeAgents(
        `${name}-node-agents`,
        { environment: args.environment, platformNamespace: args.namespace, agents: [{ name: nodeExporter.name, port: NODE_EXPORTER_PORT }], provider: args.kubernetesProvider, dependsOn: inNamespace },
        parent,
      );
      this.nodeExporter = agents.runtime.deploy(nodeExporter, { parent: agents });
      const target = scrapeTargetOf(nodeExporter);
      if (target) hostTargets.push({ ...target, namespace: agents.namespace });
      if (args.kubeStateMetrics) {
        this.kubeStateMetrics = new KubeStateMetrics(
          `${name}-kube-state-metrics`,
          { namespace: args.namespace, provider: args.kubernetesProvider, nodeSelector: args.kubeStateMetrics.nodeSelector, dependsOn: inNamespace },
          parent,
        );
        hostTargets.push(KUBE_STATE_METRICS_TARGET);
      }
    }

    const own = [...[alertmanager, grafana, jaeger].map(scrapeTargetOf).filter((t): t is ScrapeTarget => t !== undefined), ...hostTargets];
    const prometheusSelf: ScrapeTarget = { name: "prometheus", port: PROMETHEUS_PORT, path: "/metrics", role: "monitoring", service: "prometheus", zones: ["monitoring"], replicas: 1 };
    // args.targets may already hold the workloads above when they went through the same registry.
    const scraped = [...own, prometheusSelf, ...args.targets.filter((t) => !own.some((o) => o.name === t.name) && t.name !== prometheusSelf.name)];
    const config = renderPrometheusConfig({
      environment: args.environment,
      discovery: args.namespace === undefined ? { kind: "static" } : { kind: "kubernetes-pods", namespace: args.namespace },
      scrapeIntervalSeconds: s.scrapeIntervalSeconds,
      alertmanagers: [`alertmanager:${ALERTMANAGER_PORT}`],
      ruleFiles: [PROMETHEUS_RULES_PATH],
      targets: scraped,
    });
    const access = args.namespace === undefined ? undefined : new PrometheusAccess(`${name}-prometheus-access`, { namespace: args.namespace, provider: args.kubernetesProvider }, parent);
    this.prometheus = args.runtime.deploy(
      prometheusWorkload({
        image: s.prometheusImage,
        domain: args.domain,
        config,
        rules: renderAlertRules({ escalationAfterMinutes: s.escalationAfterMinutes }),
        retentionDays: s.retentionDays,
        storageGiB: s.storageGiB,
        resources: { cpu: s.cpu, memoryMiB: s.memoryMiB },
        scrapeFiles: scrapeFilesOf(scraped),
        ...(access ? { serviceAccount: PROMETHEUS_SERVICE_ACCOUNT } : {}),
      }),
      { parent: this, dependsOn: [...this.alertmanager.resources, ...(access ? [access] : [])] },
    );

    const ui = (workload: DeployedWorkload, host: string): MonitoringUi => ({
      url: `https://${host}.${args.domain}/`,
      internal: workload.endpoint("http").apply((e) => `http://${e.host}:${e.port}/`),
    });
    this.ui = { prometheus: ui(this.prometheus, "prometheus"), alertmanager: ui(this.alertmanager, "alertmanager"), grafana: ui(this.grafana, "grafana"), jaeger: ui(this.jaeger, "jaeger") };
    this.registerOutputs({ ui: this.ui, grafanaAdminPassword: this.grafanaAdminPassword, alertReceivers: this.alertReceivers });
  }

  /** What the stack outputs about monitoring; the Grafana password as a secret. */
  outputs(): Record<string, unknown> {
    return {
      ui: this.ui,
      grafanaAdmin: { user: "admin", password: this.grafanaAdminPassword },
      alerting:
        this.alertReceivers.length > 0
          ? { receivers: this.alertReceivers }
          : { receivers: [], note: "no receiver configured (fundament:monitoring.receivers): alerts are visible only in the Alertmanager UI" },
    };
  }
}
