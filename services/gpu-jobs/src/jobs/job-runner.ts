import type { Logger } from "@fundament/kit";
import { offerKey, rankOffers, type Provider } from "../placement/rank-offers";
import { idempotencyKey, type ProviderAdapter, ProviderError, PROVIDER_WIDE_REASONS } from "../providers/provider-adapter";
import type { GpuJobMetrics } from "./gpu-job-metrics";
import type { JobStore } from "./job-store";
import type { AttemptRecord, JobRecord } from "./job-types";
import type { OfferCatalog } from "./offer-catalog";
import type { SecretResolver } from "./secret-resolver";

export interface JobRunnerOptions {
  store: JobStore;
  catalog: OfferCatalog;
  adapters: ReadonlyMap<Provider, ProviderAdapter>;
  secrets: SecretResolver;
  logger: Logger;
  metrics: GpuJobMetrics;
  /** This replica's name in leases. */
  owner: string;
  leaseMs: number;
  attemptTimeoutMs: number;
  maxAttempts: number;
  /** How long a provider is skipped after a rate limit (without Retry-After) or an auth failure. */
  providerBackoffMs: number;
  now?: () => number;
}

const SYSTEM = "gpu-jobs";

/**
 * Places, watches and cancels jobs. Each entry point claims the job's lease first, so two replicas
 * (or a replica and its own restarted self) never work on one job at once; each is idempotent, so
 * a command delivered twice changes nothing the second time.
 */
export class JobRunner {
  /** Provider → until when it is skipped; shared by all jobs on this replica. */
  private readonly backoff = new Map<Provider, number>();

  constructor(private readonly options: JobRunnerOptions) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private async withLease(jobId: string, states: JobRecord["state"][], work: (job: JobRecord) => Promise<void>): Promise<void> {
    const { store, owner, leaseMs } = this.options;
    const job = await store.claim(jobId, owner, leaseMs, states);
    if (!job) return;
    try {
      await work(job);
    } finally {
      await store.release(jobId, owner);
    }
  }

  /** Whatever the job's state asks for next: place, watch or cancel. */
  async advance(jobId: string): Promise<void> {
    const job = await this.options.store.get(jobId);
    if (!job) return;
    if (job.state === "queued" || job.state === "placing") await this.place(jobId);
    else if (job.state === "running") await this.monitor(jobId);
    else if (job.state === "cancelling") await this.cancel(jobId);
  }

  async place(jobId: string): Promise<void> {
    await this.withLease(jobId, ["queued", "placing"], async (job) => {
      const started = this.now();
      const outcome = await this.placeClaimed(job);
      this.options.metrics.placementSeconds.observe({ outcome }, (this.now() - started) / 1000);
    });
  }

  private async placeClaimed(job: JobRecord): Promise<"launched" | "failed" | "cancelled"> {
    const { store } = this.options;
    // Reconcile first: a pending attempt is a launch whose answer was never recorded (timeout, crash).
    for (const attempt of await store.attempts(job.id)) {
      if (attempt.outcome !== "pending") continue;
      const found = await this.reconcile(job, attempt);
      if (found) return "launched";
    }
    if (job.deadline && Date.parse(job.deadline) <= this.now()) {
      await store.finish(job, "failed", "deadline passed before the job was placed", SYSTEM);
      return "failed";
    }
    for (;;) {
      // Every attempt may take the whole attempt timeout: hold the lease for the next one, or stop
      // if it lapsed (another replica may have resumed the job, and must be the only one launching).
      if (!(await store.renewLease(job.id, this.options.owner, this.options.leaseMs))) return "cancelled";
      const current = await store.get(job.id);
      if (!current || current.state !== "placing") return "cancelled";
      const attempts = await store.attempts(job.id);
      if (attempts.length >= this.options.maxAttempts) {
        await store.finish(job, "failed", `no launch after ${attempts.length} attempts: ${summarise(attempts)}`, SYSTEM);
        return "failed";
      }
      const blocked = new Set<string>(attempts.map((a) => `${a.provider}:${a.offerId}`));
      for (const [provider, until] of this.backoff) if (until > this.now()) blocked.add(provider);
      const offers = await this.options.catalog.offers(blocked);
      const [next] = rankOffers(job.request, offers, { blocked, limit: 1 });
      if (!next) {
        await store.finish(job, "failed", attempts.length === 0 ? "no offer meets the request" : `no further offer meets the request after: ${summarise(attempts)}`, SYSTEM);
        return "failed";
      }
      // The failed attempts cost nothing; the next one must still fit what the job reserved.
      if (next.pricePerHour * job.estimatedHours > job.reservedUsd + 1e-9) {
        await store.finish(job, "failed", `the next offer (${offerKey(next)} at ${next.pricePerHour}/h) would break the job's budget`, SYSTEM);
        return "failed";
      }
      const number = attempts.length + 1;
      const key = idempotencyKey(job.id, number);
      await store.beginAttempt(job, number, next, key);
      const attempt: AttemptRecord = { attempt: number, provider: next.provider, offerId: next.offerId, gpuModel: next.gpuModel, pricePerHour: next.pricePerHour, idempotencyKey: key, outcome: "pending", reason: null, detail: null, instanceId: null, startedAt: new Date().toISOString(), finishedAt: null };
      const adapter = this.options.adapters.get(next.provider)!;
      this.options.metrics.attempts.inc({ provider: next.provider });
      try {
        const environment = await this.options.secrets.resolve(job.environment);
        const { instanceId } = await adapter.launch({ key, offer: next, image: job.image, command: job.command, environment, gpuCount: job.request.gpuCount }, AbortSignal.timeout(this.options.attemptTimeoutMs));
        await store.markLaunched(job, attempt, instanceId, "launched", SYSTEM);
        return "launched";
      } catch (error) {
        const failure = error instanceof ProviderError ? error : new ProviderError(next.provider, "server_error", (error as Error).message);
        this.options.metrics.failures.inc({ provider: next.provider, reason: failure.reason });
        this.options.catalog.invalidate(next.provider);
        if (failure.reason === "timeout") {
          // It may have launched all the same: look for the key before trying anything else.
          if (await this.reconcile(job, attempt)) return "launched";
          continue;
        }
        await store.failAttempt(job.id, number, failure.reason, failure.message);
        if (PROVIDER_WIDE_REASONS.has(failure.reason)) this.backoff.set(next.provider, this.now() + (failure.retryAfterMs ?? this.options.providerBackoffMs));
      }
    }
  }

  /** Looks the attempt's key up at its provider; adopts a found instance, or records that it never launched. */
  private async reconcile(job: JobRecord, attempt: AttemptRecord): Promise<boolean> {
    const adapter = this.options.adapters.get(attempt.provider);
    if (!adapter) {
      await this.options.store.failAttempt(job.id, attempt.attempt, "provider_removed", "the provider is no longer configured");
      return false;
    }
    let owned;
    try {
      owned = await adapter.listOwned();
    } catch (error) {
      // Unknown: the attempt stays pending and the job is tried again later, never launched elsewhere meanwhile.
      this.options.logger.warn({ err: error, jobId: job.id, key: attempt.idempotencyKey }, "reconciliation listing failed; will retry");
      throw error;
    }
    const instance = owned.find((candidate) => candidate.key === attempt.idempotencyKey);
    if (instance) {
      await this.options.store.markLaunched(job, attempt, instance.instanceId, "found by reconciliation after an unanswered launch", SYSTEM);
      return true;
    }
    await this.options.store.failAttempt(job.id, attempt.attempt, "timeout", "no answer in time, and no instance with its key at the provider");
    return false;
  }

  async monitor(jobId: string): Promise<void> {
    await this.withLease(jobId, ["running"], async (claimed) => {
      const { store } = this.options;
      const job = (await store.recordCost(jobId)) ?? claimed;
      const adapter = this.options.adapters.get(job.provider!);
      if (!adapter || !job.instanceId) {
        await store.finish(job, "failed", "the provider of the running instance is no longer configured", SYSTEM);
        return;
      }
      if (job.deadline && Date.parse(job.deadline) <= this.now()) return this.stop(job, adapter, "failed", "deadline exceeded: instance terminated");
      if (job.costUsd >= job.reservedUsd) return this.stop(job, adapter, "failed", `budget exhausted (${job.costUsd.toFixed(4)} of ${job.reservedUsd.toFixed(4)} USD): instance terminated`);
      const instance = await adapter.status(job.instanceId);
      if (!instance || instance.state === "terminated") {
        await store.finish(job, "failed", "the instance disappeared at the provider", SYSTEM);
        return;
      }
      if (instance.state === "exited") return this.stop(job, adapter, "succeeded", "the command finished");
      if (instance.state === "failed") return this.stop(job, adapter, "failed", "the command or its instance failed");
    });
  }

  async cancel(jobId: string): Promise<void> {
    await this.withLease(jobId, ["cancelling"], async (job) => {
      const adapter = job.provider ? this.options.adapters.get(job.provider) : undefined;
      // An attempt still pending may have launched: find and terminate it too.
      for (const attempt of await this.options.store.attempts(job.id)) {
        const attemptAdapter = this.options.adapters.get(attempt.provider);
        if (attempt.outcome !== "pending" || !attemptAdapter) continue;
        const found = (await attemptAdapter.listOwned()).find((instance) => instance.key === attempt.idempotencyKey);
        if (found) await attemptAdapter.terminate(found.instanceId);
        await this.options.store.failAttempt(job.id, attempt.attempt, "cancelled", found ? "launched while the job was cancelled; terminated" : "cancelled before it answered");
      }
      if (adapter && job.instanceId) return this.stop(job, adapter, "cancelled", "cancelled: instance terminated");
      await this.options.store.finish(job, "cancelled", "cancelled before it was placed", SYSTEM);
    });
  }

  private async stop(job: JobRecord, adapter: ProviderAdapter, state: "succeeded" | "failed" | "cancelled", reason: string): Promise<void> {
    await adapter.terminate(job.instanceId!);
    await this.options.store.finish(job, state, reason, SYSTEM);
    const finished = await this.options.store.get(job.id);
    if (finished) this.options.metrics.spend.inc({ project: job.project, provider: adapter.provider }, finished.costUsd);
  }
}

function summarise(attempts: AttemptRecord[]): string {
  return attempts.map((a) => `${a.provider}:${a.offerId} ${a.outcome === "launched" ? "launched" : (a.reason ?? a.outcome)}`).join(", ");
}
