import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AutoscalingConfig, GpuPoolConfig, QuotaConfig } from "../config";
import { GPU_RESOURCE, PRIORITY_CLASSES } from "../runtime/kubernetes-pod";

export interface SchedulingArgs {
  /** The platform's namespace (created by the network layer). */
  namespace: pulumi.Input<string>;
  gpuNamespace: string;
  pools: GpuPoolConfig[];
  quotas: QuotaConfig;
  autoscaling: AutoscalingConfig;
  /** Stateless services (Deployments) and their configured replicas: each gets an HPA. */
  services: { name: string; replicas: number }[];
  /** StatefulSets: each gets a VPA in recommendation mode when the VPA chart is installed. */
  stateful: string[];
  provider?: k8s.Provider;
  /** The VPA chart (its CRDs); without it no VerticalPodAutoscaler is created. */
  vpaRelease?: pulumi.Resource;
}

const LABELS = { "app.kubernetes.io/part-of": "fundament" };

/** PriorityClasses: the platform's servers first, services by default, GPU batch last and never preempting. */
export function priorityClassSpecs(): { name: string; value: number; globalDefault: boolean; preemptionPolicy: string; description: string }[] {
  return [
    { name: PRIORITY_CLASSES.critical, value: 100_000, globalDefault: false, preemptionPolicy: "PreemptLowerPriority", description: "data services and the gateway: everything else stands on them" },
    { name: PRIORITY_CLASSES.services, value: 10_000, globalDefault: true, preemptionPolicy: "PreemptLowerPriority", description: "the platform's services (the default of every pod without a class)" },
    { name: PRIORITY_CLASSES.gpuBatch, value: 1_000, globalDefault: false, preemptionPolicy: "Never", description: "preemptible GPU batch jobs: they wait rather than evict, and are evicted first" },
  ];
}

/** GPUs the GPU namespace may request together: every pool at its max. */
export function gpuQuota(pools: GpuPoolConfig[]): number {
  return pools.reduce((sum, pool) => sum + pool.maxSize * pool.gpusPerNode, 0);
}

/**
 * The PriorityClasses, created before any pod: admission rejects a pod whose class does not exist.
 */
export class PriorityClasses extends pulumi.ComponentResource {
  readonly resources: k8s.scheduling.v1.PriorityClass[];

  constructor(name: string, args: { provider?: k8s.Provider; dependsOn?: pulumi.Resource[] }, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:gpu:PriorityClasses", name, {}, opts);
    this.resources = priorityClassSpecs().map(
      (spec) =>
        new k8s.scheduling.v1.PriorityClass(
          `${name}-${spec.name}`,
          { metadata: { name: spec.name, labels: LABELS }, value: spec.value, globalDefault: spec.globalDefault, preemptionPolicy: spec.preemptionPolicy, description: spec.description },
          { parent: this, provider: args.provider, dependsOn: args.dependsOn },
        ),
    );
    this.registerOutputs({});
  }
}

/**
 * Scheduling and autoscaling objects of the platform: the GPU jobs' namespace,
 * a ResourceQuota and a LimitRange per namespace (the platform's allows no GPU: GPU work runs in
 * the GPU namespace, whose quota is the pools' GPUs), an HPA per stateless service (CPU and
 * memory, from metrics-server) and a VPA in recommendation mode per stateful workload.
 */
export class Scheduling extends pulumi.ComponentResource {
  readonly gpuNamespace: pulumi.Output<string>;

  constructor(name: string, args: SchedulingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:gpu:Scheduling", name, {}, opts);
    const childOpts = { parent: this, provider: args.provider };
    const gpuNamespace = new k8s.core.v1.Namespace(
      `${name}-gpu-namespace`,
      {
        metadata: {
          name: args.gpuNamespace,
          labels: { ...LABELS, "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted" },
        },
      },
      childOpts,
    );
    this.gpuNamespace = gpuNamespace.metadata.name;

    const limitRange = (suffix: string, namespace: pulumi.Input<string>) =>
      new k8s.core.v1.LimitRange(
        `${name}-${suffix}-limits`,
        {
          metadata: { name: "container-limits", namespace, labels: LABELS },
          spec: {
            limits: [
              {
                type: "Container",
                // For a container that names no resources; the platform's own always do.
                default: { cpu: "500m", memory: "512Mi" },
                defaultRequest: { cpu: "500m", memory: "512Mi" },
                max: { cpu: "32", memory: "256Gi" },
                min: { cpu: "10m", memory: "16Mi" },
              },
            ],
          },
        },
        childOpts,
      );
    const cpu = String(args.quotas.cpu);
    const memory = `${args.quotas.memoryGiB}Gi`;
    new k8s.core.v1.ResourceQuota(
      `${name}-platform-quota`,
      {
        metadata: { name: "platform-quota", namespace: args.namespace, labels: LABELS },
        spec: { hard: { "requests.cpu": cpu, "limits.cpu": cpu, "requests.memory": memory, "limits.memory": memory, [`requests.${GPU_RESOURCE}`]: "0" } },
      },
      childOpts,
    );
    limitRange("platform", args.namespace);
    new k8s.core.v1.ResourceQuota(
      `${name}-gpu-quota`,
      {
        metadata: { name: "gpu-quota", namespace: gpuNamespace.metadata.name, labels: LABELS },
        spec: { hard: { "requests.cpu": cpu, "limits.cpu": cpu, "requests.memory": memory, "limits.memory": memory, [`requests.${GPU_RESOURCE}`]: String(gpuQuota(args.pools)) } },
      },
      childOpts,
    );
    limitRange("gpu", gpuNamespace.metadata.name);

    for (const service of args.services) {
      new k8s.autoscaling.v2.HorizontalPodAutoscaler(
        `${name}-${service.name}-hpa`,
        {
          metadata: { name: service.name, namespace: args.namespace, labels: { ...LABELS, "app.kubernetes.io/name": service.name } },
          spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: service.name },
            minReplicas: service.replicas,
            maxReplicas: args.autoscaling.maxReplicas,
            metrics: (["cpu", "memory"] as const).map((resource) => ({
              type: "Resource",
              resource: { name: resource, target: { type: "Utilization", averageUtilization: resource === "cpu" ? args.autoscaling.cpuPercent : args.autoscaling.memoryPercent } },
            })),
            // Scale down slowly: a brief lull should not drop capacity the next burst needs.
            behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: "Pods", value: 1, periodSeconds: 60 }] } },
          },
        },
        childOpts,
      );
    }
    if (args.vpaRelease) {
      for (const workload of args.stateful) {
        new k8s.apiextensions.CustomResource(
          `${name}-${workload}-vpa`,
          {
            apiVersion: "autoscaling.k8s.io/v1",
            kind: "VerticalPodAutoscaler",
            metadata: { name: workload, namespace: args.namespace, labels: { ...LABELS, "app.kubernetes.io/name": workload } },
            // Recommendation only: a database is not restarted by an autoscaler; people read the numbers.
            spec: { targetRef: { apiVersion: "apps/v1", kind: "StatefulSet", name: workload }, updatePolicy: { updateMode: "Off" } },
          },
          { ...childOpts, dependsOn: [args.vpaRelease] },
        );
      }
    }
    this.registerOutputs({ gpuNamespace: this.gpuNamespace });
  }
}
