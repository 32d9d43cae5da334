import type { GpuOffer } from "../placement/rank-offers";
import { type FailureReason, isNotFound, KEY_PREFIX, type InstanceState, type LaunchSpec, type ProviderAdapter, ProviderError, type ProviderInstance } from "./provider-adapter";
import { providerRequest, type ProviderHttpOptions } from "./provider-http";

export interface VastaiOptions {
  apiKey: string;
  /** https://console.vast.ai/api/v0 in production. */
  baseUrl: string;
  timeoutMs: number;
  diskGb: number;
}

interface VastOffer {
  id: number;
  gpu_name: string;
  num_gpus: number;
  /** Per-GPU memory in MB. */
  gpu_ram: number;
  dph_total: number;
  reliability2?: number;
  reliability?: number;
  geolocation?: string | null;
}

interface VastInstance {
  id: number;
  label: string | null;
  actual_status: string | null;
  intended_status?: string | null;
}

/** Vast.ai's error bodies: `{success:false, error, msg}`, sometimes only msg, 429 as plain text. */
export function classifyVastai(status: number, body: unknown, text: string): FailureReason | undefined {
  if (status === 429) return "rate_limited";
  if (status === 401 || status === 403) return "auth";
  const record = (body ?? {}) as { error?: string; msg?: string; message?: string };
  const words = `${record.error ?? ""} ${record.msg ?? record.message ?? text}`.toLowerCase();
  if (words.includes("no_such_ask") || words.includes("no longer available") || words.includes("not available")) return "no_capacity";
  if (words.includes("insufficient_credit") || words.includes("insufficient credit") || words.includes("balance")) return "quota";
  return undefined;
}

function instanceState(instance: VastInstance): InstanceState {
  const status = instance.actual_status ?? "";
  if (status === "running") return "running";
  if (status === "exited" || status === "stopped") return "exited";
  if (status === "offline" || status === "error") return "failed";
  return "starting";
}

/** Vast.ai's REST API: GET /bundles/ (offer search), PUT /asks/{id}/ (accept an ask), /instances/. */
export class VastaiAdapter implements ProviderAdapter {
  readonly provider = "vastai" as const;
  private readonly http: ProviderHttpOptions;

  constructor(private readonly options: VastaiOptions) {
    this.http = { provider: "vastai", baseUrl: options.baseUrl, headers: { authorization: `Bearer ${options.apiKey}` }, timeoutMs: options.timeoutMs, classify: classifyVastai };
  }

  async listOffers(): Promise<GpuOffer[]> {
    const query = { rentable: { eq: true }, rented: { eq: false }, verified: { eq: true }, type: "on-demand" };
    const { body } = await providerRequest(this.http, "GET", `/bundles/?q=${encodeURIComponent(JSON.stringify(query))}`);
    const offers = ((body ?? {}) as { offers?: VastOffer[] }).offers ?? [];
    return offers.map((offer) => ({
      provider: "vastai",
      offerId: String(offer.id),
      gpuModel: offer.gpu_name,
      // gpu_ram is in MB and a little under the marketing size (a 24 GB RTX 4090 reports 24564).
      gpuMemoryGiB: Math.round(offer.gpu_ram / 1024),
      gpuCount: offer.num_gpus,
      region: offer.geolocation ?? "unknown",
      spot: false,
      pricePerHour: offer.dph_total,
      // Vast.ai publishes each host's measured reliability; the service's own history refines it.
      reliability: offer.reliability2 ?? offer.reliability ?? 0.9,
    }));
  }

  async launch(spec: LaunchSpec, signal: AbortSignal): Promise<{ instanceId: string }> {
    const { body } = await providerRequest(
      this.http,
      "PUT",
      `/asks/${encodeURIComponent(spec.offer.offerId)}/`,
      { client_id: "me", image: spec.image, label: spec.key, disk: this.options.diskGb, env: spec.environment, runtype: "args", args: spec.command },
      signal,
    );
    const answer = (body ?? {}) as { success?: boolean; new_contract?: number; error?: string; msg?: string };
    if (answer.success === false || answer.new_contract === undefined) {
      const reason = classifyVastai(200, body, "") ?? "rejected";
      throw new ProviderError("vastai", reason, `PUT /asks: ${answer.msg ?? answer.error ?? "no contract in the answer"}`);
    }
    return { instanceId: String(answer.new_contract) };
  }

  async status(instanceId: string): Promise<ProviderInstance | undefined> {
    try {
      const { body } = await providerRequest(this.http, "GET", `/instances/${encodeURIComponent(instanceId)}/`);
      // The single-instance answer nests the instance under "instances" (an object, not a list).
      const nested = ((body ?? {}) as { instances?: VastInstance | VastInstance[] | null }).instances;
      const instance = Array.isArray(nested) ? nested[0] : nested;
      return instance ? { instanceId: String(instance.id), key: instance.label ?? "", state: instanceState(instance) } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async terminate(instanceId: string): Promise<void> {
    try {
      await providerRequest(this.http, "DELETE", `/instances/${encodeURIComponent(instanceId)}/`);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
  }

  async listOwned(): Promise<ProviderInstance[]> {
    const { body } = await providerRequest(this.http, "GET", "/instances/");
    const instances = ((body ?? {}) as { instances?: VastInstance[] }).instances ?? [];
    return instances
      .filter((instance) => (instance.label ?? "").startsWith(KEY_PREFIX))
      .map((instance) => ({ instanceId: String(instance.id), key: instance.label ?? "", state: instanceState(instance) }));
  }
}
