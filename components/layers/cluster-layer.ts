import { EksCluster } from "../cloud";
import { ClusterCharts, GpuNodePools, PriorityClasses } from "../gpu";
import { childOf, LayerScope } from "./layer-scope";

/** The cluster the Kubernetes layers run on; empty for Docker and for an existing cluster's charts. */
export interface ClusterLayer {
  cluster?: EksCluster;
  gpuPools?: GpuNodePools;
  charts?: ClusterCharts;
  priorities?: PriorityClasses;
}

/** prod from an empty account: the cluster first, then everything Kubernetes through its provider. */
export function wireCluster(scope: LayerScope): ClusterLayer {
  const { config } = scope;
  const parent = childOf(scope);
  let cluster: EksCluster | undefined;
  let gpuPools: GpuNodePools | undefined;
  if (config.target === "kubernetes" && config.cluster.mode === "eks") {
    cluster = new EksCluster("cluster", { cluster: config.cluster, environment: config.environment, tags: { project: "fundament", environment: config.environment } }, parent);
    if (config.gpu.pools.length > 0) gpuPools = new GpuNodePools("gpu-pools", { cluster, pools: config.gpu.pools }, parent);
  }
  const charts = cluster ? new ClusterCharts("cluster-charts", { cluster }, parent) : undefined;
  const priorities = config.target === "kubernetes" ? new PriorityClasses("priority-classes", { provider: cluster?.provider ?? undefined, dependsOn: cluster?.ready }, parent) : undefined;
  return { cluster, gpuPools, charts, priorities };
}
