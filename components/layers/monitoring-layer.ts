import { SYSTEM_NODE_LABEL } from "../cloud/aws/eks-cluster";
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
      // A cluster add-on, so only on a cluster the stack built, on its system node group (as the cluster charts).
      kubeStateMetrics: below.cluster.cluster ? { nodeSelector: { [SYSTEM_NODE_LABEL]: "system" } } : undefined,
      targets: below.scrapes.targets,
      settings: config.monitoring,
    },
    childOf(scope),
  );
}
