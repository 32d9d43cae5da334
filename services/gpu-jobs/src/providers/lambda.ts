import type { GpuOffer } from "../placement/rank-offers";
import { type FailureReason, isNotFound, KEY_PREFIX, type InstanceState, type LaunchSpec, type ProviderAdapter, ProviderError, type ProviderInstance } from "./provider-adapter";
import { providerRequest, type ProviderHttpOptions } from "./provider-http";

export interface LambdaOptions {
  apiKey: string;
  /** https://cloud.lambda.ai/api/v1 in production. */
  baseUrl: string;
  timeoutMs: number;
  /** Lambda requires at least one registered SSH key name on launch. */
  sshKeyName: string;
  reliabilityPrior: number;
}

interface LambdaInstanceType {
  instance_type: { name: string; description: string; gpu_description?: string; price_cents_per_hour: number; specs: { gpus: number } };
  regions_with_capacity_available: Array<{ name: string }>;
}

interface LambdaInstance {
  id: string;
  name: string | null;
  status: string;
}

/** Lambda's errors are `{error: {code, message, suggestion?}}`; the code is the stable part. */
export function classifyLambda(status: number, body: unknown): FailureReason | undefined {
  const code = ((body ?? {}) as { error?: { code?: string } }).error?.code ?? "";
  if (code.endsWith("insufficient-capacity")) return "no_capacity";
  if (code.includes("quota-exceeded") || code === "global/account-inactive") return "quota";
  if (code === "global/invalid-api-key" || code === "global/unauthorized" || status === 401 || status === 403) return "auth";
  if (status === 429) return "rate_limited";
  return undefined;
}

function instanceState(status: string): InstanceState {
  if (status === "active") return "running";
  if (status === "unhealthy") return "failed";
  if (status === "terminated" || status === "terminating") return "terminated";
  return "starting";
}

/** "1x A100 (40 GB SXM4)" → 40; Lambda gives GPU memory only inside the description. */
export function gpuMemoryFromDescription(description: string): number {
  const match = /(\d+)\s*GB/i.exec(description);
  return match ? Number(match[1]) : 0;
}

/** Lambda Cloud API: GET /instance-types (prices, regions with capacity), /instance-operations/launch|terminate, /instances. */
export class LambdaAdapter implements ProviderAdapter {
  readonly provider = "lambda" as const;
  private readonly http: ProviderHttpOptions;

  constructor(private readonly options: LambdaOptions) {
    this.http = { provider: "lambda", baseUrl: options.baseUrl, headers: { authorization: `Bearer ${options.apiKey}` }, timeoutMs: options.timeoutMs, classify: classifyLambda };
  }

  async listOffers(): Promise<GpuOffer[]> {
    const { body } = await providerRequest(this.http, "GET", "/instance-types");
    const types = ((body ?? {}) as { data?: Record<string, LambdaInstanceType> }).data ?? {};
    const offers: GpuOffer[] = [];
    for (const entry of Object.values(types)) {
      const type = entry.instance_type;
      const description = type.gpu_description ?? type.description;
      const model = description.replace(/^\d+x\s*/, "").replace(/\s*\(.*$/, "");
      // Capacity is live: a type without a region with capacity is no offer at all.
      for (const region of entry.regions_with_capacity_available) {
        offers.push({
          provider: "lambda",
          offerId: `${type.name}@${region.name}`,
          gpuModel: model,
          gpuMemoryGiB: gpuMemoryFromDescription(description),
          gpuCount: type.specs.gpus,
          region: region.name,
          spot: false,
          pricePerHour: type.price_cents_per_hour / 100,
          reliability: this.options.reliabilityPrior,
        });
      }
    }
    return offers;
  }

  async launch(spec: LaunchSpec, signal: AbortSignal): Promise<{ instanceId: string }> {
    const [instanceTypeName, regionName] = spec.offer.offerId.split("@");
    const { body } = await providerRequest(
      this.http,
      "POST",
      "/instance-operations/launch",
      { region_name: regionName, instance_type_name: instanceTypeName, ssh_key_names: [this.options.sshKeyName], quantity: 1, name: spec.key, user_data: cloudInitFor(spec) },
      signal,
    );
    const ids = ((body ?? {}) as { data?: { instance_ids?: string[] } }).data?.instance_ids ?? [];
    if (ids.length === 0) throw new ProviderError("lambda", "server_error", "launch answered without an instance id");
    return { instanceId: ids[0]! };
  }

  async status(instanceId: string): Promise<ProviderInstance | undefined> {
    try {
      const { body } = await providerRequest(this.http, "GET", `/instances/${encodeURIComponent(instanceId)}`);
      const instance = ((body ?? {}) as { data?: LambdaInstance }).data;
      return instance ? { instanceId: instance.id, key: instance.name ?? "", state: instanceState(instance.status) } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async terminate(instanceId: string): Promise<void> {
    try {
      await providerRequest(this.http, "POST", "/instance-operations/terminate", { instance_ids: [instanceId] });
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
  }

  async listOwned(): Promise<ProviderInstance[]> {
    const { body } = await providerRequest(this.http, "GET", "/instances");
    const instances = ((body ?? {}) as { data?: LambdaInstance[] }).data ?? [];
    return instances.filter((i) => (i.name ?? "").startsWith(KEY_PREFIX)).map((i) => ({ instanceId: i.id, key: i.name ?? "", state: instanceState(i.status) }));
  }
}

/** A VM provider runs the job through cloud-init: the container with the GPUs, then the machine powers off. */
export function cloudInitFor(spec: LaunchSpec): string {
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const env = Object.entries(spec.environment).map(([name, value]) => `-e ${quote(`${name}=${value}`)}`).join(" ");
  return [
    "#cloud-config",
    "runcmd:",
    `  - [sh, -c, ${JSON.stringify(`docker run --rm --gpus all ${env} ${quote(spec.image)} ${spec.command.map(quote).join(" ")}; poweroff`)}]`,
    "",
  ].join("\n");
}
