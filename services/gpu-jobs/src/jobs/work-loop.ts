import type { Logger } from "@fundament/kit";
import type { Provider } from "../placement/rank-offers";
import type { ProviderAdapter } from "../providers/provider-adapter";
import type { GpuJobMetrics } from "./gpu-job-metrics";
import type { JobRunner } from "./job-runner";
import type { JobStore } from "./job-store";
import { reapOrphans } from "./orphan-reaper";

export interface WorkLoopOptions {
  store: JobStore;
  runner: JobRunner;
  adapters: ReadonlyMap<Provider, ProviderAdapter>;
  metrics: GpuJobMetrics;
  logger: Logger;
  /** How often every active job is looked at (placement resumed, running jobs watched). */
  intervalMs: number;
  reapIntervalMs: number;
  /**
   * When set and true, a pass hands each job to the command queues (any replica's workers take
   * it) instead of advancing it here; while the broker is away the loop advances jobs itself.
   */
  brokerConnected?: () => boolean;
}

/**
 * The service's schedule: every interval it advances each active job whose lease is free (through
 * the command queues when the broker is there), so a job survives any crash (its lease runs out
 * and the next pass resumes it from PostgreSQL), and it reaps orphans. kick() runs a pass now.
 */
export class WorkLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private lastReap = 0;
  private stopped = false;
  private started = false;

  constructor(private readonly options: WorkLoopOptions) {}

  start(): void {
    this.started = true;
    this.timer = setInterval(() => this.kick(), this.options.intervalMs);
    this.timer.unref();
    this.kick();
  }

  kick(): void {
    if (this.stopped || !this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((error: unknown) => this.options.logger.error({ err: error }, "work loop pass failed"))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** One pass: every job that needs work, one after another, then the reaper when it is due. */
  async pass(): Promise<void> {
    const { store, runner, logger } = this.options;
    const jobs = await store.jobsNeedingWork(100);
    if (this.options.brokerConnected?.()) {
      await store.enqueueCommands(jobs);
      await this.finishPass();
      return;
    }
    for (const job of jobs) {
      if (this.stopped) return;
      try {
        await runner.advance(job.id);
      } catch (error) {
        logger.warn({ err: error, jobId: job.id }, "job step failed; retried next pass");
      }
    }
    await this.finishPass();
  }

  private async finishPass(): Promise<void> {
    const { store, logger } = this.options;
    await this.updateQueueGauges();
    if (Date.now() - this.lastReap >= this.options.reapIntervalMs) {
      this.lastReap = Date.now();
      const reaped = await reapOrphans(store, this.options.adapters, logger);
      if (reaped.length > 0) logger.warn({ reaped }, "terminated orphaned instances");
    }
  }

  private async updateQueueGauges(): Promise<void> {
    const result = await this.options.store.pool.query<{ state: string; depth: string; age: string | null }>(
      `select state, count(*) as depth, extract(epoch from now() - min(updated_at)) as age from gpu_jobs where state in ('queued', 'placing', 'running', 'cancelling') group by state`,
    );
    this.options.metrics.queueDepth.reset();
    this.options.metrics.queueAgeSeconds.reset();
    for (const row of result.rows) {
      this.options.metrics.queueDepth.set({ state: row.state }, Number(row.depth));
      this.options.metrics.queueAgeSeconds.set({ state: row.state }, Number(row.age ?? 0));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
