import type { GpuOffer } from "../placement/rank-offers";
import { type ConfiguredOffer, offersFromTable, tableEntryOf } from "./configured-offers";
import { type FailureReason, isNotFound, KEY_PREFIX, type InstanceState, type LaunchSpec, type ProviderAdapter, ProviderError, type ProviderInstance } from "./provider-adapter";
import { providerRequest, type ProviderHttpOptions } from "./provider-http";

export interface PaperspaceOptions {
  apiKey: string;
  /** https://api.paperspace.com/v1 in production. */
  baseUrl: string;
  timeoutMs: number;
  offers: ConfiguredOffer[];
  templateId: string;
  diskSizeGb: number;
  /** A startup script (created once in Paperspace) that runs the job's container; the machines API takes only its id. */
  startupScriptId?: string;
  reliabilityPrior: number;
}

interface PaperspaceMachine {
  id: string;
  name: string;
  state: string;
}

export function classifyPaperspace(status: number, body: unknown, text: string): FailureReason | undefined {
  const words = `${((body ?? {}) as { message?: string }).message ?? text}`.toLowerCase();
  if (status === 401 || status === 403) return "auth";
  if (status === 429) return "rate_limited";
  if (words.includes("quota") || words.includes("limit reached")) return "quota";
  if (words.includes("capacity") || words.includes("out of stock") || words.includes("not available")) return "no_capacity";
  return undefined;
}

function machineState(state: string): InstanceState {
  if (state === "ready" || state === "serviceready") return "running";
  if (state === "off") return "exited";
  return "starting";
}

/** Paperspace machines API (api.paperspace.com/v1/machines); prices come from configuration. */
export class PaperspaceAdapter implements ProviderAdapter {
  readonly provider = "paperspace" as const;
  private readonly http: ProviderHttpOptions;

  constructor(private readonly options: PaperspaceOptions) {
    this.http = { provider: "paperspace", baseUrl: options.baseUrl, headers: { authorization: `Bearer ${options.apiKey}` }, timeoutMs: options.timeoutMs, classify: classifyPaperspace };
  }

  async listOffers(): Promise<GpuOffer[]> {
    return offersFromTable("paperspace", this.options.offers, this.options.reliabilityPrior);
  }

  async launch(spec: LaunchSpec, signal: AbortSignal): Promise<{ instanceId: string }> {
    const entry = tableEntryOf(spec.offer.offerId);
    const { body } = await providerRequest(
      this.http,
      "POST",
      "/machines",
      {
        name: spec.key,
        machineType: entry.type,
        templateId: this.options.templateId,
        region: entry.region,
        diskSize: this.options.diskSizeGb,
        ...(this.options.startupScriptId ? { startupScriptId: this.options.startupScriptId } : {}),
      },
      signal,
    );
    const answer = (body ?? {}) as { data?: PaperspaceMachine } & Partial<PaperspaceMachine>;
    const id = answer.data?.id ?? answer.id;
    if (!id) throw new ProviderError("paperspace", "server_error", "create answered without a machine id");
    return { instanceId: id };
  }

  async status(instanceId: string): Promise<ProviderInstance | undefined> {
    try {
      const { body } = await providerRequest(this.http, "GET", `/machines/${encodeURIComponent(instanceId)}`);
      const machine = (body ?? undefined) as PaperspaceMachine | undefined;
      return machine ? { instanceId: machine.id, key: machine.name, state: machineState(machine.state) } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async terminate(instanceId: string): Promise<void> {
    try {
      await providerRequest(this.http, "DELETE", `/machines/${encodeURIComponent(instanceId)}`);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
  }

  async listOwned(): Promise<ProviderInstance[]> {
    const owned: ProviderInstance[] = [];
    let after: string | undefined;
    for (let page = 0; page < 100; page += 1) {
      const { body } = await providerRequest(this.http, "GET", `/machines?limit=100${after ? `&after=${encodeURIComponent(after)}` : ""}`);
      const answer = (body ?? {}) as { items?: PaperspaceMachine[]; hasMore?: boolean; nextPage?: string };
      for (const machine of answer.items ?? []) if (machine.name.startsWith(KEY_PREFIX)) owned.push({ instanceId: machine.id, key: machine.name, state: machineState(machine.state) });
      if (!answer.hasMore || !answer.nextPage) break;
      after = answer.nextPage;
    }
    return owned;
  }
}
