import { Runtime } from "../runtime/workload";
import { Monitoring, ScrapeTargetRegistry } from "../monitoring";
import { ClusterLayer } from "./cluster-layer";
import { childOf, LayerScope } from "./layer-scope";

/**
 * Prometheus, Alertmanager, Grafana and Jaeger. Wired after every layer that deploys workloads:
 * Prometheus scrapes what the registry recorded until now.
 */
export function wireMonitoring(scope: LayerScope, below: { runtime: Runtime; scrapes: ScrapeTargetRegistry; cluster: ClusterLayer }): Monitoring {
  const { config } = scope;
  return new Monitoring(
    "monitoring",
    {
      runtime: below.runtime,
      environment: config.environment,
      domain: config.domain,
      namespace: config.target === "kubernetes" ? config.kubernetes.namespace : undefined,
      kubernetesProvider: below.cluster.cluster?.provider,
      targets: below.scrapes.targets,
      settings: config.monitoring,
    },
    childOf(scope),
  );
}
