import { Field, ObjectField, StringField } from "./schema-fields";

/**
 * Stack-config keys of the cluster itself: where prod runs (an EKS cluster the stack builds, or a
 * cluster someone else runs), its GPU node pools, autoscaling and namespace quotas.
 */

export interface NodeGroupSizeConfig {
  instanceTypes: string[];
  minSize: number;
  maxSize: number;
  desiredSize: number;
  diskGiB: number;
}

export interface GpuPoolConfig {
  name: string;
  instanceTypes: string[];
  capacity: "ON_DEMAND" | "SPOT";
  maxSize: number;
  model: string;
  gpusPerNode: number;
  diskGiB: number;
}

export interface ClusterConfig {
  mode: "existing" | "eks";
  name?: string;
  kubernetesVersion: string;
  availabilityZones: string[];
  vpcCidr: string;
  natGateways: "perZone" | "shared";
  publicAccessCidrs: string[];
  admins: string[];
  logRetentionDays: number;
  systemNodes: NodeGroupSizeConfig;
}

export interface GpuConfig {
  namespace: string;
  pools: GpuPoolConfig[];
}

export interface AutoscalingConfig {
  maxReplicas: number;
  cpuPercent: number;
  memoryPercent: number;
}

export interface QuotaConfig {
  cpu: number;
  memoryGiB: number;
}

const CIDR: StringField = {
  kind: "string",
  doc: "an IPv4 CIDR block",
  pattern: /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([0-9]|[12]\d|3[0-2])$/,
  patternDoc: "an IPv4 CIDR block such as 203.0.113.0/24",
};

const INSTANCE_TYPES = (doc: string, dflt?: string[]): Field => ({
  kind: "array",
  doc,
  default: dflt,
  required: dflt === undefined,
  items: { kind: "string", doc: "EC2 instance type", pattern: /^[a-z][a-z0-9-]*\.[a-z0-9]+$/, patternDoc: "an EC2 instance type such as m6i.xlarge" },
});

/** CloudWatch Logs accepts only these retention periods (PutRetentionPolicy). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const GPU_POOL: ObjectField = {
  kind: "object",
  doc: "one GPU node pool",
  fields: {
    name: { kind: "string", doc: "pool name (node label fundament.io/gpu-pool, Workload gpu.pool)", required: true, pattern: /^[a-z][a-z0-9-]{0,24}$/, patternDoc: "lower-case letters, digits and dashes, at most 25" },
    instanceTypes: INSTANCE_TYPES("GPU instance types of the pool (one GPU model per pool)"),
    capacity: { kind: "string", doc: "on-demand or spot capacity", default: "ON_DEMAND", oneOf: ["ON_DEMAND", "SPOT"] },
    maxSize: { kind: "integer", doc: "most nodes the autoscaler may start (the pool scales from 0)", default: 2, min: 1, max: 100 },
    model: { kind: "string", doc: "GPU model on these nodes (node label nvidia.com/gpu.product-style, e.g. a10g)", required: true, pattern: /^[a-z0-9][a-z0-9-]{0,30}$/, patternDoc: "lower-case letters, digits and dashes" },
    gpusPerNode: { kind: "integer", doc: "GPUs per node (for the autoscaler's scale-from-zero template and the GPU quota)", default: 1, min: 1, max: 16 },
    diskGiB: { kind: "integer", doc: "encrypted gp3 root volume in GiB (CUDA images are large)", default: 100, min: 30, max: 16_384 },
  },
};

export const CLUSTER_SCHEMA: Record<string, Field> = {
  cluster: {
    kind: "object",
    doc: "the Kubernetes cluster of the kubernetes target",
    fields: {
      mode: {
        kind: "string",
        doc: "eks: build VPC, EKS cluster and node pools from an empty AWS account; existing: deploy into the cluster of the kubeconfig (no AWS resource but ECR)",
        default: "existing",
        oneOf: ["existing", "eks"],
      },
      name: { kind: "string", doc: "EKS cluster name (default: fundament-<environment>)", pattern: /^[a-zA-Z][a-zA-Z0-9-]{0,99}$/, patternDoc: "letters, digits and dashes, starting with a letter" },
      kubernetesVersion: { kind: "string", doc: "pinned Kubernetes minor version of the control plane and nodes", default: "1.33", pattern: /^1\.\d{2}$/, patternDoc: "a minor version such as 1.33" },
      availabilityZones: {
        kind: "array",
        doc: "availability zones of the VPC, one public and one private subnet each (given, not looked up, so a preview is reproducible)",
        default: [],
        maxItems: 6,
        items: { kind: "string", doc: "availability zone", pattern: /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, patternDoc: "an availability zone name such as eu-central-1a" },
      },
      vpcCidr: { ...CIDR, doc: "VPC address range (/16 to /20); pods take VPC addresses (vpc-cni)", default: "10.0.0.0/16" },
      natGateways: {
        kind: "string",
        doc: "perZone: one NAT gateway per zone (survives a zone outage; about 32 USD a month each plus data); shared: one NAT gateway for all zones (a third of the fixed cost, cross-zone data charges, egress stops with its zone)",
        default: "perZone",
        oneOf: ["perZone", "shared"],
      },
      publicAccessCidrs: { kind: "array", doc: "CIDRs that may reach the public API endpoint; empty: the endpoint is private only", default: [], items: CIDR },
      admins: {
        kind: "array",
        doc: "IAM role or user ARNs given cluster-admin through EKS access entries",
        default: [],
        items: { kind: "string", doc: "IAM principal ARN", pattern: /^arn:aws:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/, patternDoc: "an IAM role or user ARN" },
      },
      logRetentionDays: {
        kind: "custom",
        doc: "days control-plane and VPC flow logs are kept",
        typeDoc: `one of ${LOG_RETENTION_DAYS.join(", ")}`,
        default: 90,
        validate: (value, key) => (LOG_RETENTION_DAYS.includes(Number(value)) ? [] : [`${key}: must be a retention CloudWatch accepts (${LOG_RETENTION_DAYS.join(", ")}) (got ${JSON.stringify(value)})`]),
      },
      systemNodes: {
        kind: "object",
        doc: "the system managed node group (platform servers and add-ons)",
        fields: {
          instanceTypes: INSTANCE_TYPES("instance types", ["m6i.xlarge"]),
          minSize: { kind: "integer", doc: "fewest nodes", default: 3, min: 1, max: 100 },
          maxSize: { kind: "integer", doc: "most nodes", default: 6, min: 1, max: 100 },
          desiredSize: { kind: "integer", doc: "nodes at creation (the autoscaler owns it afterwards)", default: 3, min: 1, max: 100 },
          diskGiB: { kind: "integer", doc: "encrypted gp3 root volume in GiB", default: 50, min: 20, max: 16_384 },
        },
      },
    },
  },
  gpu: {
    kind: "object",
    doc: "GPU node pools and the namespace GPU jobs run in",
    fields: {
      namespace: { kind: "string", doc: "namespace of GPU jobs (its quota holds the pools' GPUs)", default: "fundament-gpu", pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, patternDoc: "a DNS label" },
      pools: { kind: "array", doc: "GPU node pools (cluster.mode eks): each scales from 0, tainted nvidia.com/gpu=true:NoSchedule", default: [], maxItems: 20, items: GPU_POOL },
    },
  },
  autoscaling: {
    kind: "object",
    doc: "HorizontalPodAutoscalers of the stateless services (Kubernetes)",
    fields: {
      maxReplicas: { kind: "integer", doc: "most replicas of a service (the fewest is its replicas key)", default: 10, min: 1, max: 500 },
      cpuPercent: { kind: "integer", doc: "target CPU utilisation of requests", default: 70, min: 10, max: 100 },
      memoryPercent: { kind: "integer", doc: "target memory utilisation of requests", default: 80, min: 10, max: 100 },
    },
  },
  quotas: {
    kind: "object",
    doc: "ResourceQuota of the platform namespace (Kubernetes)",
    fields: {
      cpu: { kind: "number", doc: "CPU cores all pods may request together", default: 64, min: 1, max: 10_000 },
      memoryGiB: { kind: "integer", doc: "memory in GiB all pods may request together", default: 256, min: 1, max: 100_000 },
    },
  },
};

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
