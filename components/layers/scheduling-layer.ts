import { RabbitMQ } from "../broker";
import { ServiceName } from "../config";
import { Scheduling } from "../gpu";
import { Zones } from "../network";
import { effectiveGpuProviders, GpuJobsAccess } from "../services";
import { ClusterLayer } from "./cluster-layer";
import { DatabaseLayer } from "./database-layer";
import { LayerScope } from "./layer-scope";
import { ServicesLayer } from "./services-layer";

interface SchedulingInputs {
  cluster: ClusterLayer;
  zones: Zones;
  databases: DatabaseLayer;
  broker?: RabbitMQ;
  services: ServicesLayer;
}

/**
 * Kubernetes only: quotas, priorities and autoscaling over every workload below, and the GPU
 * namespace with gpu-jobs' access to it.
 */
export function wireScheduling(scope: LayerScope, below: SchedulingInputs): Scheduling | undefined {
  const { config, parent } = scope;
  if (config.target !== "kubernetes") return undefined;
  const { cluster } = below.cluster;
  const { postgres, redis, mongo } = below.databases;
  const scheduling = new Scheduling(
    "scheduling",
    {
      namespace: config.kubernetes.namespace,
      gpuNamespace: config.gpu.namespace,
      pools: config.gpu.pools,
      quotas: config.quotas,
      autoscaling: config.autoscaling,
      services: (Object.keys(below.services.byName) as ServiceName[]).map((name) => ({ name, replicas: config.services[name].replicas })),
      stateful: [postgres, redis, mongo, below.broker].filter((layer) => layer !== undefined).map((layer) => layer.workload.name).concat(config.storage.provider === "minio" ? ["minio"] : []),
      provider: cluster?.provider,
      vpaRelease: below.cluster.charts?.releases.verticalPodAutoscaler,
    },
    { parent, dependsOn: [below.zones] },
  );
  if (below.services.byName["gpu-jobs"] && effectiveGpuProviders(config.gpuJobs, "kubernetes").includes("aws")) {
    new GpuJobsAccess("gpu-jobs-access", { namespace: config.kubernetes.namespace, gpuNamespace: scheduling.gpuNamespace, provider: cluster?.provider, dependsOn: [below.zones] }, { parent });
  }
  return scheduling;
}
