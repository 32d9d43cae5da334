import type { GpuOffer } from "../placement/rank-offers";
import { type FailureReason, KEY_PREFIX, type InstanceState, type LaunchSpec, type ProviderAdapter, ProviderError, type ProviderInstance } from "./provider-adapter";
import { providerRequest, type ProviderHttpOptions } from "./provider-http";

export interface RunpodOptions {
  apiKey: string;
  /** https://api.runpod.io in production. */
  baseUrl: string;
  timeoutMs: number;
  /** GPU counts to offer per type; RunPod prices a pod per GPU. */
  gpuCounts: number[];
  containerDiskInGb: number;
  reliabilityPrior: number;
}

interface GraphqlAnswer<T> {
  data?: T | null;
  errors?: Array<{ message?: string; extensions?: { code?: string } }>;
}

interface RunpodPod {
  id: string;
  name: string;
  desiredStatus: string;
}

/** RunPod reports most failures as GraphQL errors inside an HTTP 200; their message is all there is. */
export function classifyRunpodMessage(message: string): FailureReason {
  const text = message.toLowerCase();
  if (text.includes("no longer any instances available") || text.includes("no instances available") || text.includes("not enough free gpus")) return "no_capacity";
  if (text.includes("balance") || text.includes("quota") || text.includes("spend limit")) return "quota";
  if (text.includes("unauthorized") || text.includes("api key") || text.includes("forbidden")) return "auth";
  if (text.includes("rate limit") || text.includes("too many requests")) return "rate_limited";
  return "rejected";
}

const POD_FIELDS = "id name desiredStatus";

function podState(desiredStatus: string): InstanceState {
  switch (desiredStatus) {
    case "RUNNING":
      return "running";
    case "EXITED":
      return "exited";
    case "TERMINATED":
      return "terminated";
    default:
      return "starting";
  }
}

/** RunPod's GraphQL API (https://api.runpod.io/graphql): gpuTypes, podFindAndDeployOnDemand / podRentInterruptable, pod, podTerminate, myself.pods. */
export class RunpodAdapter implements ProviderAdapter {
  readonly provider = "runpod" as const;
  private readonly http: ProviderHttpOptions;

  constructor(private readonly options: RunpodOptions) {
    this.http = {
      provider: "runpod",
      baseUrl: options.baseUrl,
      headers: { authorization: `Bearer ${options.apiKey}` },
      timeoutMs: options.timeoutMs,
    };
  }

  private async graphql<T>(query: string, variables: Record<string, unknown>, signal?: AbortSignal): Promise<T> {
    const { body } = await providerRequest(this.http, "POST", "/graphql", { query, variables }, signal);
    const answer = (body ?? {}) as GraphqlAnswer<T>;
    if (answer.errors && answer.errors.length > 0) {
      const message = answer.errors.map((error) => error.message ?? "error").join("; ");
      throw new ProviderError("runpod", classifyRunpodMessage(message), `GraphQL error: ${message.slice(0, 300)}`);
    }
    if (!answer.data) throw new ProviderError("runpod", "server_error", "GraphQL answer without data");
    return answer.data;
  }

  async listOffers(): Promise<GpuOffer[]> {
    const data = await this.graphql<{
      gpuTypes: Array<{ id: string; displayName: string; memoryInGb: number; lowestPrice: { minimumBidPrice: number | null; uninterruptablePrice: number | null } | null }>;
    }>("query GpuTypes { gpuTypes { id displayName memoryInGb lowestPrice(input: { gpuCount: 1 }) { minimumBidPrice uninterruptablePrice } } }", {});
    const offers: GpuOffer[] = [];
    for (const type of data.gpuTypes) {
      const price = type.lowestPrice;
      if (!price) continue;
      for (const count of this.options.gpuCounts) {
        const base = { provider: "runpod" as const, gpuModel: type.displayName, gpuMemoryGiB: type.memoryInGb, gpuCount: count, region: "any", reliability: this.options.reliabilityPrior };
        if (price.uninterruptablePrice !== null) offers.push({ ...base, offerId: `${type.id}|${count}|ondemand`, spot: false, pricePerHour: price.uninterruptablePrice * count });
        if (price.minimumBidPrice !== null) offers.push({ ...base, offerId: `${type.id}|${count}|spot`, spot: true, pricePerHour: price.minimumBidPrice * count });
      }
    }
    return offers;
  }

  async launch(spec: LaunchSpec, signal: AbortSignal): Promise<{ instanceId: string }> {
    const [gpuTypeId] = spec.offer.offerId.split("|");
    const input: Record<string, unknown> = {
      cloudType: "ALL",
      gpuCount: spec.offer.gpuCount,
      gpuTypeId,
      name: spec.key,
      imageName: spec.image,
      dockerArgs: spec.command.map((part) => JSON.stringify(part)).join(" "),
      env: Object.entries(spec.environment).map(([key, value]) => ({ key, value })),
      containerDiskInGb: this.options.containerDiskInGb,
      volumeInGb: 0,
    };
    if (spec.offer.spot) {
      const data = await this.graphql<{ podRentInterruptable: RunpodPod | null }>(
        `mutation Rent($input: PodRentInterruptableInput!) { podRentInterruptable(input: $input) { ${POD_FIELDS} } }`,
        { input: { ...input, bidPerGpu: spec.offer.pricePerHour / spec.offer.gpuCount } },
        signal,
      );
      if (!data.podRentInterruptable) throw new ProviderError("runpod", "no_capacity", "podRentInterruptable returned no pod");
      return { instanceId: data.podRentInterruptable.id };
    }
    const data = await this.graphql<{ podFindAndDeployOnDemand: RunpodPod | null }>(
      `mutation Deploy($input: PodFindAndDeployOnDemandInput!) { podFindAndDeployOnDemand(input: $input) { ${POD_FIELDS} } }`,
      { input },
      signal,
    );
    if (!data.podFindAndDeployOnDemand) throw new ProviderError("runpod", "no_capacity", "podFindAndDeployOnDemand returned no pod");
    return { instanceId: data.podFindAndDeployOnDemand.id };
  }

  async status(instanceId: string): Promise<ProviderInstance | undefined> {
    const data = await this.graphql<{ pod: RunpodPod | null }>(`query Pod($input: PodFilter!) { pod(input: $input) { ${POD_FIELDS} } }`, { input: { podId: instanceId } });
    return data.pod ? { instanceId: data.pod.id, key: data.pod.name, state: podState(data.pod.desiredStatus) } : undefined;
  }

  async terminate(instanceId: string): Promise<void> {
    await this.graphql(`mutation Terminate($input: PodTerminateInput!) { podTerminate(input: $input) }`, { input: { podId: instanceId } });
  }

  async listOwned(): Promise<ProviderInstance[]> {
    const data = await this.graphql<{ myself: { pods: RunpodPod[] } }>(`query Pods { myself { pods { ${POD_FIELDS} } } }`, {});
    return data.myself.pods.filter((pod) => pod.name.startsWith(KEY_PREFIX)).map((pod) => ({ instanceId: pod.id, key: pod.name, state: podState(pod.desiredStatus) }));
  }
}
