import type { GpuOffer } from "../placement/rank-offers";
import { type ConfiguredOffer, offersFromTable, tableEntryOf } from "./configured-offers";
import { cloudInitFor } from "./lambda";
import { type FailureReason, isNotFound, KEY_PREFIX, type InstanceState, type LaunchSpec, type ProviderAdapter, ProviderError, type ProviderInstance } from "./provider-adapter";
import { providerRequest, type ProviderHttpOptions } from "./provider-http";

export interface GenesisOptions {
  apiKey: string;
  /** https://api.genesiscloud.com/compute/v1 in production. */
  baseUrl: string;
  timeoutMs: number;
  /** Genesis publishes no price list through the API: prices come from configuration. */
  offers: ConfiguredOffer[];
  image: string;
  sshKeyIds: string[];
  reliabilityPrior: number;
}

interface GenesisInstance {
  id: string;
  name: string;
  status: string;
}

/** Genesis errors are `{code, message}`. */
export function classifyGenesis(status: number, body: unknown): FailureReason | undefined {
  const record = (body ?? {}) as { code?: string; message?: string };
  const words = `${record.code ?? ""} ${record.message ?? ""}`.toLowerCase();
  if (words.includes("quota")) return "quota";
  if (status === 401 || status === 403) return "auth";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server_error";
  if (words.includes("capacity") || words.includes("unavailable") || words.includes("not available") || words.includes("out of stock")) return "no_capacity";
  return undefined;
}

function instanceState(status: string): InstanceState {
  if (status === "active") return "running";
  if (status === "stopped" || status === "shutoff") return "exited";
  if (status === "error") return "failed";
  if (status === "deleting") return "terminated";
  return "starting";
}

/** Genesis Cloud compute API: /availability/{region}/instances, /instances (paged), /instances/{id}. */
export class GenesisAdapter implements ProviderAdapter {
  readonly provider = "genesis" as const;
  private readonly http: ProviderHttpOptions;

  constructor(private readonly options: GenesisOptions) {
    this.http = { provider: "genesis", baseUrl: options.baseUrl, headers: { authorization: `Bearer ${options.apiKey}` }, timeoutMs: options.timeoutMs, classify: classifyGenesis };
  }

  async listOffers(): Promise<GpuOffer[]> {
    const regions = [...new Set(this.options.offers.map((offer) => offer.region))];
    const available = new Set<string>();
    for (const region of regions) {
      const { body } = await providerRequest(this.http, "GET", `/availability/${encodeURIComponent(region)}/instances`);
      const types = ((body ?? {}) as { availability?: { instance_types?: Array<{ type: string; available: boolean }> } }).availability?.instance_types ?? [];
      for (const type of types) if (type.available) available.add(`${type.type}@${region}`);
    }
    return offersFromTable("genesis", this.options.offers, this.options.reliabilityPrior).filter((offer) => {
      const entry = tableEntryOf(offer.offerId);
      return available.has(`${entry.type}@${entry.region}`);
    });
  }

  async launch(spec: LaunchSpec, signal: AbortSignal): Promise<{ instanceId: string }> {
    const entry = tableEntryOf(spec.offer.offerId);
    const { body } = await providerRequest(
      this.http,
      "POST",
      "/instances",
      {
        name: spec.key,
        hostname: spec.key,
        type: entry.type,
        image: this.options.image,
        region: entry.region,
        ssh_keys: this.options.sshKeyIds,
        metadata: { user_data: cloudInitFor(spec) },
        ...(entry.spot ? { billing_type: "spot" } : {}),
      },
      signal,
    );
    const instance = ((body ?? {}) as { instance?: GenesisInstance }).instance;
    if (!instance) throw new ProviderError("genesis", "server_error", "create answered without an instance");
    return { instanceId: instance.id };
  }

  async status(instanceId: string): Promise<ProviderInstance | undefined> {
    try {
      const { body } = await providerRequest(this.http, "GET", `/instances/${encodeURIComponent(instanceId)}`);
      const instance = ((body ?? {}) as { instance?: GenesisInstance }).instance;
      return instance ? { instanceId: instance.id, key: instance.name, state: instanceState(instance.status) } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async terminate(instanceId: string): Promise<void> {
    try {
      await providerRequest(this.http, "DELETE", `/instances/${encodeURIComponent(instanceId)}`);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
  }

  async listOwned(): Promise<ProviderInstance[]> {
    const owned: ProviderInstance[] = [];
    for (let page = 1; page <= 100; page += 1) {
      const { body } = await providerRequest(this.http, "GET", `/instances?page=${page}&per_page=100`);
      const answer = (body ?? {}) as { instances?: GenesisInstance[]; total_count?: number };
      const instances = answer.instances ?? [];
      for (const instance of instances) if (instance.name.startsWith(KEY_PREFIX)) owned.push({ instanceId: instance.id, key: instance.name, state: instanceState(instance.status) });
      if (instances.length < 100 || page * 100 >= (answer.total_count ?? 0)) break;
    }
    return owned;
  }
}
