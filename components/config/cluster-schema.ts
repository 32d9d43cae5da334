import { Type, type Static } from "@sinclair/typebox";
import { EKS_ADDON_VERSIONS } from "../cloud/aws/addon-versions";
import { CLUSTER_AUTOSCALER_IMAGE_TAGS } from "../gpu/chart-versions";
import { patterned, section, stringEnum } from "./schema-builders";

/**
 * Stack-config keys of the cluster itself: where prod runs (an EKS cluster the stack builds, or a
 * cluster someone else runs), its GPU node pools, autoscaling and namespace quotas. Their types
 * are read off the schema, so a field is declared once.
 */

const CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([0-9]|[12]\d|3[0-2])$/;
const CIDR_SAYS = "an IPv4 CIDR block such as 203.0.113.0/24";

function instanceTypes(description: string, dflt?: string[]) {
  return Type.Array(patterned(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an EC2 instance type such as m6i.xlarge", { description: "EC2 instance type" }), {
    description,
    ...(dflt === undefined ? {} : { default: dflt }),
  });
}

/** CloudWatch Logs accepts only these retention periods (PutRetentionPolicy). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const GPU_POOL = Type.Object(
  {
    name: patterned(/^[a-z][a-z0-9-]{0,24}$/, "lower-case letters, digits and dashes, at most 25", { description: "pool name (node label fundament.io/gpu-pool, Workload gpu.pool)" }),
    instanceTypes: instanceTypes("GPU instance types of the pool (one GPU model per pool)"),
    capacity: stringEnum(["ON_DEMAND", "SPOT"], { description: "on-demand or spot capacity", default: "ON_DEMAND" }),
    maxSize: Type.Integer({ description: "most nodes the autoscaler may start (the pool scales from 0)", default: 2, minimum: 1, maximum: 100 }),
    model: patterned(/^[a-z0-9][a-z0-9-]{0,30}$/, "lower-case letters, digits and dashes", { description: "GPU model on these nodes (node label nvidia.com/gpu.product-style, e.g. a10g)" }),
    gpusPerNode: Type.Integer({ description: "GPUs per node (for the autoscaler's scale-from-zero template and the GPU quota)", default: 1, minimum: 1, maximum: 16 }),
    diskGiB: Type.Integer({ description: "encrypted gp3 root volume in GiB (CUDA images are large)", default: 100, minimum: 30, maximum: 16_384 }),
  },
  { description: "one GPU node pool", additionalProperties: false },
);

const SYSTEM_NODES = section("the system managed node group (platform servers and add-ons)", {
  instanceTypes: instanceTypes("instance types", ["m6i.xlarge"]),
  minSize: Type.Integer({ description: "fewest nodes", default: 3, minimum: 1, maximum: 100 }),
  maxSize: Type.Integer({ description: "most nodes", default: 6, minimum: 1, maximum: 100 }),
  desiredSize: Type.Integer({ description: "nodes at creation (the autoscaler owns it afterwards)", default: 3, minimum: 1, maximum: 100 }),
  diskGiB: Type.Integer({ description: "encrypted gp3 root volume in GiB", default: 50, minimum: 20, maximum: 16_384 }),
});

export const CLUSTER_KEYS = {
  cluster: section("the Kubernetes cluster of the kubernetes target", {
    mode: stringEnum(["existing", "eks"], {
      description: "eks: build VPC, EKS cluster and node pools from an empty AWS account; existing: deploy into the cluster of the kubeconfig (no AWS resource but ECR)",
      default: "existing",
    }),
    name: Type.Optional(patterned(/^[a-zA-Z][a-zA-Z0-9-]{0,99}$/, "letters, digits and dashes, starting with a letter", { description: "EKS cluster name (default: fundament-<environment>)" })),
    kubernetesVersion: patterned(/^1\.\d{2}$/, "a minor version such as 1.35", { description: "pinned Kubernetes minor version of the control plane and nodes", default: "1.35" }),
    availabilityZones: Type.Array(patterned(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, "an availability zone name such as eu-central-1a", { description: "availability zone" }), {
      description: "availability zones of the VPC, one public and one private subnet each (given, not looked up, so a preview is reproducible)",
      default: [],
      maxItems: 6,
    }),
    vpcCidr: patterned(CIDR, CIDR_SAYS, { description: "VPC address range (/16 to /20); pods take VPC addresses (vpc-cni)", default: "10.0.0.0/16" }),
    natGateways: stringEnum(["perZone", "shared"], {
      description:
        "perZone: one NAT gateway per zone (survives a zone outage; about 32 USD a month each plus data); shared: one NAT gateway for all zones (a third of the fixed cost, cross-zone data charges, egress stops with its zone)",
      default: "perZone",
    }),
    publicAccessCidrs: Type.Array(patterned(CIDR, CIDR_SAYS, { description: "an IPv4 CIDR block" }), {
      description: "CIDRs that may reach the public API endpoint; empty: the endpoint is private only",
      default: [],
    }),
    admins: Type.Array(patterned(/^arn:aws:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/, "an IAM role or user ARN", { description: "IAM principal ARN" }), {
      description: "IAM role or user ARNs given cluster-admin through EKS access entries",
      default: [],
    }),
    logRetentionDays: Type.Unsafe<number>({ type: "integer", enum: LOG_RETENTION_DAYS, description: "days control-plane and VPC flow logs are kept", default: 90 }),
    systemNodes: SYSTEM_NODES,
  }),
  gpu: section("GPU node pools and the namespace GPU jobs run in", {
    namespace: patterned(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a DNS label", { description: "namespace of GPU jobs (its quota holds the pools' GPUs)", default: "fundament-gpu" }),
    pools: Type.Array(GPU_POOL, { description: "GPU node pools (cluster.mode eks): each scales from 0, tainted nvidia.com/gpu=true:NoSchedule", default: [], maxItems: 20 }),
  }),
  autoscaling: section("HorizontalPodAutoscalers of the stateless services (Kubernetes)", {
    maxReplicas: Type.Integer({ description: "most replicas of a service (the fewest is its replicas key)", default: 10, minimum: 1, maximum: 500 }),
    cpuPercent: Type.Integer({ description: "target CPU utilisation of requests", default: 70, minimum: 10, maximum: 100 }),
    memoryPercent: Type.Integer({ description: "target memory utilisation of requests", default: 80, minimum: 10, maximum: 100 }),
  }),
  quotas: section("ResourceQuota of the platform namespace (Kubernetes)", {
    cpu: Type.Number({ description: "CPU cores all pods may request together", default: 64, minimum: 1, maximum: 10_000 }),
    memoryGiB: Type.Integer({ description: "memory in GiB all pods may request together", default: 256, minimum: 1, maximum: 100_000 }),
  }),
};

export type ClusterConfig = Static<(typeof CLUSTER_KEYS)["cluster"]>;
export type NodeGroupSizeConfig = Static<typeof SYSTEM_NODES>;
export type GpuConfig = Static<(typeof CLUSTER_KEYS)["gpu"]>;
export type GpuPoolConfig = Static<typeof GPU_POOL>;
export type AutoscalingConfig = Static<(typeof CLUSTER_KEYS)["autoscaling"]>;
export type QuotaConfig = Static<(typeof CLUSTER_KEYS)["quotas"]>;

const WORLD = ["0.0.0.0/0", "::/0"];

/** Rules across cluster keys and the rest of the config. */
export function clusterConfigProblems(config: {
  target: string;
  cluster: ClusterConfig;
  gpu: GpuConfig;
  autoscaling: AutoscalingConfig;
  services: Record<string, { enabled: boolean; replicas: number }>;
}, namespace: string): string[] {
  const problems: string[] = [];
  const { cluster, gpu } = config;
  const key = (name: string) => `${namespace}:${name}`;
  if (cluster.mode === "eks") {
    if (config.target !== "kubernetes") problems.push(`${key("cluster.mode")}: eks needs target kubernetes (got target ${config.target})`);
    const zones = cluster.availabilityZones;
    if (zones.length < 2) problems.push(`${key("cluster.availabilityZones")}: EKS needs subnets in at least 2 zones, 3 recommended (got ${zones.length})`);
    if (new Set(zones).size !== zones.length) problems.push(`${key("cluster.availabilityZones")}: zones must be distinct (got ${zones.join(", ")})`);
    const regions = new Set(zones.map((zone) => zone.slice(0, -1)));
    if (regions.size > 1) problems.push(`${key("cluster.availabilityZones")}: zones must be in one region (got ${[...regions].join(", ")})`);
    const prefix = Number(cluster.vpcCidr.split("/")[1]);
    if (prefix < 16 || prefix > 20) problems.push(`${key("cluster.vpcCidr")}: must be a /16 to /20 (got ${cluster.vpcCidr})`);
    // Add-ons and the autoscaler image are built per Kubernetes minor: a version without pins
    // would stop the program halfway through the cluster, after its network was registered.
    const pinned = Object.keys(EKS_ADDON_VERSIONS).filter((version) => CLUSTER_AUTOSCALER_IMAGE_TAGS[version]);
    if (!pinned.includes(cluster.kubernetesVersion)) {
      problems.push(`${key("cluster.kubernetesVersion")}: no add-on versions and cluster-autoscaler image are pinned for ${cluster.kubernetesVersion} (pinned: ${pinned.join(", ")}); pin them in components/cloud/aws/addon-versions.ts and components/gpu/chart-versions.ts`);
    }
    const nodes = cluster.systemNodes;
    if (nodes.minSize > nodes.desiredSize || nodes.desiredSize > nodes.maxSize) {
      problems.push(`${key("cluster.systemNodes")}: needs minSize <= desiredSize <= maxSize (got ${nodes.minSize}, ${nodes.desiredSize}, ${nodes.maxSize})`);
    }
  } else if (gpu.pools.length > 0) {
    problems.push(`${key("gpu.pools")}: node pools are built only with ${key("cluster.mode")} eks (got mode existing with ${gpu.pools.length} pools)`);
  }
  for (const cidr of cluster.publicAccessCidrs) {
    if (WORLD.includes(cidr)) problems.push(`${key("cluster.publicAccessCidrs")}: ${cidr} opens the API to the whole internet; name your ranges or leave the list empty`);
  }
  const names = gpu.pools.map((pool) => pool.name);
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) problems.push(`${key(`gpu.pools[${i}].name`)}: ${name} is used by another pool`);
  });
  for (const [name, service] of Object.entries(config.services)) {
    if (service.enabled && service.replicas > config.autoscaling.maxReplicas) {
      problems.push(`${key("autoscaling.maxReplicas")}: must be at least ${key(`services.${name}.replicas`)} (${service.replicas}) (got ${config.autoscaling.maxReplicas})`);
    }
  }
  return problems;
}
