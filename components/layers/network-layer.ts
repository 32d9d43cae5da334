import { nlbAnnotations, RouteRegistry } from "../edge";
import { CatalogRegistry } from "../discovery";
import { ScrapeTargetRegistry } from "../monitoring";
import { Zones } from "../network";
import { ClusterLayer } from "./cluster-layer";
import { childOf, LayerScope } from "./layer-scope";

export interface NetworkLayer {
  zones: Zones;
  /** The runtime every layer above deploys through: it records each route (for the gateway) and what declares metrics. */
  runtime: RouteRegistry;
  /** What declares metrics, for Prometheus. */
  scrapes: ScrapeTargetRegistry;
  /** Under the same runtime: notes each workload's Consul catalogue entry (with its check). */
  catalog: CatalogRegistry;
}

/** The zones (one network or namespace policy per zone), on the cluster when there is one. */
export function wireNetwork(scope: LayerScope, below: { cluster: ClusterLayer }): NetworkLayer {
  const { config } = scope;
  const { cluster, priorities, charts } = below.cluster;
  const zones = new Zones(
    "network",
    config.target === "docker"
      ? { target: "docker", environment: config.environment, publishAddress: config.docker.publishAddress, publishDataPorts: config.docker.publishDataPorts, dockerHost: config.docker.host }
      : {
          target: "kubernetes",
          environment: config.environment,
          namespace: config.kubernetes.namespace,
          context: config.kubernetes.context,
          storageClass: config.kubernetes.storageClass ?? cluster?.storageClassName,
          provider: cluster?.provider,
          after: [...(cluster?.ready ?? []), ...(priorities?.resources ?? [])],
          // The gateway's Service becomes an NLB through the AWS Load Balancer Controller.
          loadBalancerAnnotations: nlbAnnotations({ gatewaySecurityGroupId: cluster?.gatewaySecurityGroupId, proxyProtocol: config.cluster.mode === "eks" }),
          // On the cluster the stack built, that controller is its chart: the Service follows it up and precedes it down
          // (deleted after it, the Service would keep the controller's finalizer and its NLB would outlive the VPC's teardown).
          loadBalancerDependsOn: charts ? [charts.loadBalancerController] : undefined,
          ...(cluster ? { apiServer: { cidrs: cluster.apiServerCidrs, ports: [443] } } : {}),
        },
    childOf(scope),
  );
  const catalog = new CatalogRegistry(zones.runtime);
  const scrapes = new ScrapeTargetRegistry(catalog);
  return { zones, runtime: new RouteRegistry(scrapes), scrapes, catalog };
}
