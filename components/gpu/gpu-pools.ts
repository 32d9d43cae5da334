import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { autoscalerDiscoveryTags, EksCluster } from "../cloud/aws/eks-cluster";
import type { GpuPoolConfig } from "../config";
import { GPU_MODEL_LABEL, GPU_POOL_LABEL, GPU_PRESENT_LABEL, GPU_RESOURCE } from "../runtime/kubernetes-pod";

export interface GpuNodePoolsArgs {
  cluster: EksCluster;
  pools: GpuPoolConfig[];
}

export interface GpuPoolOutput {
  name: string;
  instanceTypes: string[];
  capacity: string;
  minSize: number;
  maxSize: number;
  gpusPerNode: number;
  model: string;
}

/** Node labels of a GPU pool: what device plugin, DCGM exporter and GPU workloads select on. */
export function gpuPoolLabels(pool: GpuPoolConfig): Record<string, string> {
  return { [GPU_PRESENT_LABEL]: "true", [GPU_POOL_LABEL]: pool.name, [GPU_MODEL_LABEL]: pool.model };
}

/**
 * What cluster-autoscaler reads from an Auto Scaling group to scale it up from zero nodes: it has
 * no node to look at, so the labels, the taint and the GPU count come from these tags. EKS does
 * not copy a node group's tags to its ASG, so they are set on the ASG itself.
 */
export function nodeTemplateTags(pool: GpuPoolConfig): Record<string, string> {
  const prefix = "k8s.io/cluster-autoscaler/node-template";
  return {
    ...Object.fromEntries(Object.entries(gpuPoolLabels(pool)).map(([label, value]) => [`${prefix}/label/${label}`, value])),
    [`${prefix}/taint/${GPU_RESOURCE}`]: "true:NoSchedule",
    [`${prefix}/resources/${GPU_RESOURCE}`]: String(pool.gpusPerNode),
  };
}

/**
 * GPU node pools: managed node groups on the NVIDIA AL2023 AMI (driver and container toolkit
 * included), from zero nodes to the pool's max, tainted so that only pods that ask for a GPU land
 * there, labelled with pool and model, and tagged for scale-from-zero.
 */
export class GpuNodePools extends pulumi.ComponentResource {
  readonly pools: GpuPoolOutput[];

  constructor(name: string, args: GpuNodePoolsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:gpu:GpuNodePools", name, {}, opts);
    const { cluster } = args;
    this.pools = [];
    for (const pool of args.pools) {
      const child = `${name}-${pool.name}`;
      const template = cluster.launchTemplate(child, pool.diskGiB, { parent: this });
      const group = new aws.eks.NodeGroup(
        child,
        {
          clusterName: cluster.clusterName,
          nodeGroupName: `gpu-${pool.name}`,
          version: cluster.version,
          nodeRoleArn: cluster.nodeRoleArn,
          subnetIds: cluster.privateSubnetIds,
          amiType: "AL2023_x86_64_NVIDIA",
          capacityType: pool.capacity,
          instanceTypes: pool.instanceTypes,
          scalingConfig: { minSize: 0, desiredSize: 0, maxSize: pool.maxSize },
          updateConfig: { maxUnavailable: 1 },
          launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
          taints: [{ key: GPU_RESOURCE, value: "true", effect: "NO_SCHEDULE" }],
          labels: gpuPoolLabels(pool),
          tags: { ...autoscalerDiscoveryTags(cluster.clusterName), ...nodeTemplateTags(pool) },
        },
        { parent: this, dependsOn: cluster.ready, ignoreChanges: ["scalingConfig.desiredSize"] },
      );
      const asgName = group.resources.apply((resources) => resources?.[0]?.autoscalingGroups?.[0]?.name ?? "");
      for (const [key, value] of Object.entries(nodeTemplateTags(pool))) {
        new aws.autoscaling.Tag(
          `${child}-${key.split("/").slice(-2).join("-").replace(/[^a-zA-Z0-9-]/g, "-")}`,
          { autoscalingGroupName: asgName, tag: { key, value, propagateAtLaunch: false } },
          { parent: this },
        );
      }
      this.pools.push({ name: pool.name, instanceTypes: pool.instanceTypes, capacity: pool.capacity, minSize: 0, maxSize: pool.maxSize, gpusPerNode: pool.gpusPerNode, model: pool.model });
    }
    this.registerOutputs({ pools: this.pools });
  }
}
