import type { GpuOffer } from "../placement/rank-offers";
import { type ConfiguredOffer, offersFromTable, tableEntryOf } from "./configured-offers";
import { type FailureReason, isNotFound, type InstanceState, type LaunchSpec, type ProviderAdapter, ProviderError, type ProviderInstance } from "./provider-adapter";
import { providerRequest, type ProviderHttpOptions } from "./provider-http";

export interface AwsKubernetesOptions {
  /** https://kubernetes.default.svc in the cluster. */
  apiUrl: string;
  /** The ServiceAccount token (read from its projected file). */
  token: string;
  namespace: string;
  timeoutMs: number;
  /** One entry per EKS GPU node pool (type = pool name), on-demand and spot prices from configuration. */
  offers: ConfiguredOffer[];
  /** Node label naming the pool a node belongs to; the Job's affinity requires it. */
  poolLabel: string;
  reliabilityPrior: number;
}

const MANAGED_BY = "app.kubernetes.io/managed-by";
const MANAGER = "fundament-gpu-jobs";
const KEY_LABEL = "fundament.io/gpu-job-key";

interface KubernetesJob {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { active?: number; succeeded?: number; failed?: number; conditions?: Array<{ type: string; status: string }> };
}

/** Kubernetes Status objects: reason AlreadyExists / Forbidden (quota) / Unauthorized / TooManyRequests. */
export function classifyKubernetes(status: number, body: unknown): FailureReason | undefined {
  const record = (body ?? {}) as { reason?: string; message?: string };
  if (status === 403 && (record.message ?? "").includes("exceeded quota")) return "quota";
  if (status === 401 || status === 403) return "auth";
  if (status === 429) return "rate_limited";
  return undefined;
}

function jobState(job: KubernetesJob): InstanceState {
  const status = job.status ?? {};
  const complete = status.conditions?.find((c) => c.status === "True" && (c.type === "Complete" || c.type === "Failed"));
  if (complete?.type === "Complete" || (status.succeeded ?? 0) > 0) return "exited";
  if (complete?.type === "Failed") return "failed";
  if ((status.active ?? 0) > 0) return "running";
  return "starting";
}

/**
 * The `aws` provider: a Kubernetes Job per launch on the EKS GPU pools, requesting nvidia.com/gpu,
 * tolerating the pools' GPU taint and requiring the pool's node label. The Job's name is the
 * idempotency key, so a retried create answers 409 AlreadyExists instead of starting a second pod.
 */
export class AwsKubernetesAdapter implements ProviderAdapter {
  readonly provider = "aws" as const;
  private readonly http: ProviderHttpOptions;

  constructor(private readonly options: AwsKubernetesOptions) {
    this.http = { provider: "aws", baseUrl: options.apiUrl, headers: { authorization: `Bearer ${options.token}` }, timeoutMs: options.timeoutMs, classify: classifyKubernetes };
  }

  private get jobsPath(): string {
    return `/apis/batch/v1/namespaces/${encodeURIComponent(this.options.namespace)}/jobs`;
  }

  async listOffers(): Promise<GpuOffer[]> {
    return offersFromTable("aws", this.options.offers, this.options.reliabilityPrior);
  }

  jobManifest(spec: LaunchSpec): Record<string, unknown> {
    const entry = tableEntryOf(spec.offer.offerId);
    const labels = { [MANAGED_BY]: MANAGER, [KEY_LABEL]: spec.key };
    return {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: spec.key, namespace: this.options.namespace, labels },
      spec: {
        backoffLimit: 0,
        ttlSecondsAfterFinished: 3600,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: "Never",
            automountServiceAccountToken: false,
            tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }, ...(entry.spot ? [{ key: "eks.amazonaws.com/capacityType", operator: "Equal", value: "SPOT", effect: "NoSchedule" }] : [])],
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    {
                      matchExpressions: [
                        { key: this.options.poolLabel, operator: "In", values: [entry.type] },
                        { key: "eks.amazonaws.com/capacityType", operator: "In", values: [entry.spot ? "SPOT" : "ON_DEMAND"] },
                      ],
                    },
                  ],
                },
              },
            },
            securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "job",
                image: spec.image,
                command: spec.command,
                env: Object.entries(spec.environment).map(([name, value]) => ({ name, value })),
                resources: { limits: { "nvidia.com/gpu": String(spec.gpuCount) }, requests: { "nvidia.com/gpu": String(spec.gpuCount) } },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
              },
            ],
          },
        },
      },
    };
  }

  async launch(spec: LaunchSpec, signal: AbortSignal): Promise<{ instanceId: string }> {
    try {
      await providerRequest(this.http, "POST", this.jobsPath, this.jobManifest(spec), signal);
    } catch (error) {
      // The Job exists already: an earlier create with this key went through.
      if (error instanceof ProviderError && error.status === 409) return { instanceId: spec.key };
      throw error;
    }
    return { instanceId: spec.key };
  }

  async status(instanceId: string): Promise<ProviderInstance | undefined> {
    try {
      const { body } = await providerRequest(this.http, "GET", `${this.jobsPath}/${encodeURIComponent(instanceId)}`);
      const job = body as KubernetesJob;
      return { instanceId: job.metadata.name, key: job.metadata.name, state: jobState(job) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async terminate(instanceId: string): Promise<void> {
    try {
      // Background propagation deletes the pod too; without it an orphaned pod would keep its GPU.
      await providerRequest(this.http, "DELETE", `${this.jobsPath}/${encodeURIComponent(instanceId)}?propagationPolicy=Background`);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
  }

  async listOwned(): Promise<ProviderInstance[]> {
    const { body } = await providerRequest(this.http, "GET", `${this.jobsPath}?labelSelector=${encodeURIComponent(`${MANAGED_BY}=${MANAGER}`)}`);
    const items = ((body ?? {}) as { items?: KubernetesJob[] }).items ?? [];
    return items.map((job) => ({ instanceId: job.metadata.name, key: job.metadata.name, state: jobState(job) }));
  }
}
