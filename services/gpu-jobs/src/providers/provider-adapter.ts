import type { GpuOffer, Provider } from "../placement/rank-offers";

/** Why a provider call failed, in the words failover decides by. */
export type FailureReason = "no_capacity" | "quota" | "rate_limited" | "auth" | "server_error" | "timeout" | "rejected";

/** Reasons after which the whole provider is skipped for a back-off, not just the offer. */
export const PROVIDER_WIDE_REASONS: ReadonlySet<FailureReason> = new Set(["rate_limited", "auth"]);

export class ProviderError extends Error {
  constructor(
    readonly provider: Provider,
    readonly reason: FailureReason,
    message: string,
    readonly retryAfterMs?: number,
    /** The HTTP status when the provider answered with one. */
    readonly status?: number,
  ) {
    super(`${provider}: ${reason}: ${message}`);
    this.name = "ProviderError";
  }
}

/** A 404 from the provider: the instance is gone, which status and terminate treat as an answer. */
export function isNotFound(error: unknown): boolean {
  return error instanceof ProviderError && error.status === 404;
}

/** Everything a launch needs; `key` goes into the provider's name or tag field. */
export interface LaunchSpec {
  key: string;
  offer: GpuOffer;
  image: string;
  command: string[];
  environment: Record<string, string>;
  gpuCount: number;
}

/** starting/running bill; exited and failed are done (the instance may still need terminating). */
export type InstanceState = "starting" | "running" | "exited" | "failed" | "terminated";

export interface ProviderInstance {
  instanceId: string;
  /** The idempotency key read back from the provider's name or tag field. */
  key: string;
  state: InstanceState;
}

/**
 * One GPU provider. Every method talks to the provider's own API; errors are ProviderErrors
 * with a reason. `signal` bounds a launch: an aborted launch may still have happened at the
 * provider, which is why every launch carries its key and listOwned finds it again.
 */
export interface ProviderAdapter {
  readonly provider: Provider;
  listOffers(): Promise<GpuOffer[]>;
  launch(spec: LaunchSpec, signal: AbortSignal): Promise<{ instanceId: string }>;
  /** undefined when the provider no longer knows the instance. */
  status(instanceId: string): Promise<ProviderInstance | undefined>;
  terminate(instanceId: string): Promise<void>;
  /** Every instance whose name or tag starts with the platform's prefix. */
  listOwned(): Promise<ProviderInstance[]>;
}

/** The prefix every instance the service launches carries; the orphan reaper looks for nothing else. */
export const KEY_PREFIX = "fgj-";

export function idempotencyKey(jobId: string, attempt: number): string {
  return `${KEY_PREFIX}${jobId}-a${attempt}`;
}
