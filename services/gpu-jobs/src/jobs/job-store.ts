import { randomUUID } from "node:crypto";
import type { Pool, PoolClient } from "@fundament/kit";
import { enqueueMessage } from "@fundament/kit/messaging";
import { COMMAND_TYPES, GPU_OUTBOX, gpuAudit, jobStateChanged, type GpuJobCommand, type JobStateChanged } from "../messages/gpu-job-messages";
import type { GpuOffer, Provider } from "../placement/rank-offers";
import { ACTIVE_STATES, type AttemptRecord, type JobRecord, type JobState, type JobSubmission } from "./job-types";

type Queryable = Pick<PoolClient, "query">;

interface JobRow {
  id: string;
  project: string;
  submitted_by: string;
  image: string;
  command: string[];
  environment: JobRecord["environment"];
  request: JobRecord["request"];
  max_price_per_hour: string;
  estimated_hours: string;
  reserved_usd: string;
  deadline: Date | null;
  state: JobState;
  state_reason: string | null;
  provider: Provider | null;
  offer_id: string | null;
  instance_id: string | null;
  price_per_hour: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  cost_usd: string;
  created_at: Date;
  updated_at: Date;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

function toJob(row: JobRow): JobRecord {
  return {
    id: row.id,
    project: row.project,
    submittedBy: row.submitted_by,
    image: row.image,
    command: row.command,
    environment: row.environment,
    request: row.request,
    maxPricePerHour: Number(row.max_price_per_hour),
    estimatedHours: Number(row.estimated_hours),
    reservedUsd: Number(row.reserved_usd),
    deadline: iso(row.deadline),
    state: row.state,
    stateReason: row.state_reason,
    provider: row.provider,
    offerId: row.offer_id,
    instanceId: row.instance_id,
    pricePerHour: row.price_per_hour === null ? null : Number(row.price_per_hour),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    costUsd: Number(row.cost_usd),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export interface AuditEntry {
  actor: string;
  action: string;
  jobId?: string;
  project?: string;
  provider?: string;
  instanceId?: string;
  pricePerHour?: number;
  costUsd?: number;
  detail?: Record<string, unknown>;
}

export interface BudgetStatus {
  project: string;
  limitUsd: number;
  /** Worst case of active jobs plus the cost of finished ones. */
  committedUsd: number;
  remainingUsd: number;
}

export class BudgetExceededError extends Error {
  constructor(
    readonly budget: BudgetStatus | undefined,
    readonly requestedUsd: number,
  ) {
    super(budget ? `project ${budget.project} has ${budget.remainingUsd.toFixed(4)} USD left, the job may cost ${requestedUsd.toFixed(4)} USD` : "project has no budget");
  }
}

/**
 * The transactions that wrote outbox rows, so JobStore.transaction wakes the relay at their
 * commit: the relay's own LISTEN would go through PgBouncer, where a notification never arrives.
 */
const wroteOutbox = new WeakSet<Queryable>();

export async function appendAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await db.query(
    `insert into gpu_audit (actor, action, job_id, project, provider, instance_id, price_per_hour, cost_usd, detail) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [entry.actor, entry.action, entry.jobId ?? null, entry.project ?? null, entry.provider ?? null, entry.instanceId ?? null, entry.pricePerHour ?? null, entry.costUsd ?? null, entry.detail ?? {}],
  );
  await enqueueMessage(db, GPU_OUTBOX, gpuAudit, { ...entry, at: new Date().toISOString() });
  wroteOutbox.add(db);
}

/** A state change as an event, sent by the outbox relay once its transaction commits. */
export async function enqueueStateChange(db: Queryable, change: JobStateChanged): Promise<void> {
  await enqueueMessage(db, GPU_OUTBOX, jobStateChanged, change);
  wroteOutbox.add(db);
}

/** A command for the workers (any replica), sent by the outbox relay once its transaction commits. */
export async function enqueueCommand(db: Queryable, kind: GpuJobCommand, jobId: string): Promise<void> {
  await enqueueMessage(db, GPU_OUTBOX, COMMAND_TYPES[kind], { jobId });
  wroteOutbox.add(db);
}

/** The command that advances a job in this (active) state. */
export function commandFor(state: JobState): GpuJobCommand {
  if (state === "running") return "monitor";
  if (state === "cancelling") return "cancel";
  return "launch";
}

/** Every statement about jobs, attempts, budgets and the audit trail. */
export class JobStore {
  private outboxCommitted: () => void = () => undefined;

  constructor(readonly pool: Pool) {}

  /** Called after each commit that wrote outbox rows (the relay's kick), so they leave at once. */
  onOutboxCommit(wake: () => void): void {
    this.outboxCommitted = wake;
  }

  /** Every write that enqueues a message runs here: its rows and the message commit together. */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      const result = await work(client);
      await client.query("commit");
      if (wroteOutbox.delete(client)) this.outboxCommitted();
      return result;
    } catch (error) {
      wroteOutbox.delete(client);
      await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async budget(db: Queryable, project: string, lock = false): Promise<BudgetStatus | undefined> {
    const limit = await db.query<{ limit_usd: string }>(`select limit_usd from gpu_budgets where project = $1${lock ? " for update" : ""}`, [project]);
    if (limit.rowCount === 0) return undefined;
    const committed = await db.query<{ committed: string }>(
      `select coalesce(sum(case when state = any($2) then greatest(reserved_usd, cost_usd) else cost_usd end), 0) as committed from gpu_jobs where project = $1`,
      [project, ACTIVE_STATES],
    );
    const limitUsd = Number(limit.rows[0]!.limit_usd);
    const committedUsd = Number(committed.rows[0]!.committed);
    return { project, limitUsd, committedUsd, remainingUsd: limitUsd - committedUsd };
  }

  async setBudget(project: string, limitUsd: number, actor: string): Promise<BudgetStatus> {
    return this.transaction(async (db) => {
      await db.query(
        `insert into gpu_budgets (project, limit_usd, updated_by) values ($1, $2, $3)
         on conflict (project) do update set limit_usd = excluded.limit_usd, updated_by = excluded.updated_by, updated_at = now()`,
        [project, limitUsd, actor],
      );
      await appendAudit(db, { actor, action: "budget.set", project, costUsd: limitUsd });
      return (await this.budget(db, project))!;
    });
  }

  /** Reserves the worst case against the project's budget (row-locked, so two submissions cannot both take the last dollar). */
  async submit(submission: JobSubmission, actor: string): Promise<JobRecord> {
    const reserved = submission.maxPricePerHour * submission.estimatedHours;
    return this.transaction(async (db) => {
      const budget = await this.budget(db, submission.project, true);
      if (!budget || reserved > budget.remainingUsd + 1e-9) throw new BudgetExceededError(budget, reserved);
      const id = randomUUID();
      const request = { ...submission.gpu, maxPricePerHour: submission.maxPricePerHour, estimatedHours: submission.estimatedHours };
      const inserted = await db.query<JobRow>(
        `insert into gpu_jobs (id, project, submitted_by, image, command, environment, request, max_price_per_hour, estimated_hours, reserved_usd, deadline, state)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'queued') returning *`,
        [id, submission.project, actor, submission.image, submission.command, submission.environment, request, submission.maxPricePerHour, submission.estimatedHours, reserved, submission.deadline ?? null],
      );
      const job = toJob(inserted.rows[0]!);
      await appendAudit(db, { actor, action: "job.submitted", jobId: id, project: job.project, costUsd: reserved, detail: { maxPricePerHour: job.maxPricePerHour, estimatedHours: job.estimatedHours } });
      await enqueueStateChange(db, { jobId: id, project: job.project, state: "queued", at: job.createdAt });
      await enqueueCommand(db, "launch", id);
      return job;
    });
  }

  async get(id: string, db: Queryable = this.pool): Promise<JobRecord | undefined> {
    const result = await db.query<JobRow>("select * from gpu_jobs where id = $1", [id]);
    return result.rows[0] ? toJob(result.rows[0]) : undefined;
  }

  async list(filter: { projects?: string[]; project?: string; state?: JobState; limit: number }): Promise<JobRecord[]> {
    const conditions: string[] = [];
    const values: unknown[] = [];
    if (filter.projects) conditions.push(`project = any($${values.push(filter.projects)})`);
    if (filter.project) conditions.push(`project = $${values.push(filter.project)}`);
    if (filter.state) conditions.push(`state = $${values.push(filter.state)}`);
    const where = conditions.length > 0 ? `where ${conditions.join(" and ")}` : "";
    const result = await this.pool.query<JobRow>(`select * from gpu_jobs ${where} order by created_at desc limit $${values.push(filter.limit)}`, values);
    return result.rows.map(toJob);
  }

  async attempts(jobId: string, db: Queryable = this.pool): Promise<AttemptRecord[]> {
    const result = await db.query<{
      attempt: number;
      provider: Provider;
      offer_id: string;
      gpu_model: string;
      price_per_hour: string;
      idempotency_key: string;
      outcome: AttemptRecord["outcome"];
      reason: string | null;
      detail: string | null;
      instance_id: string | null;
      started_at: Date;
      finished_at: Date | null;
    }>("select * from gpu_attempts where job_id = $1 order by attempt", [jobId]);
    return result.rows.map((row) => ({
      attempt: row.attempt,
      provider: row.provider,
      offerId: row.offer_id,
      gpuModel: row.gpu_model,
      pricePerHour: Number(row.price_per_hour),
      idempotencyKey: row.idempotency_key,
      outcome: row.outcome,
      reason: row.reason,
      detail: row.detail,
      instanceId: row.instance_id,
      startedAt: row.started_at.toISOString(),
      finishedAt: iso(row.finished_at),
    }));
  }

  /**
   * Takes the job for `ttlMs` when nobody holds it, moving queued to placing. Resolves undefined
   * while any lease is live, this replica's own included (its loop and a command may race), or
   * when the job is in none of `states`.
   */
  async claim(jobId: string, owner: string, ttlMs: number, states: JobState[]): Promise<JobRecord | undefined> {
    const result = await this.pool.query<JobRow>(
      `update gpu_jobs set lease_owner = $2, lease_until = now() + ($3 || ' milliseconds')::interval,
         state = case when state = 'queued' then 'placing' else state end, updated_at = now()
       where id = $1 and state = any($4) and (lease_until is null or lease_until < now())
       returning *`,
      [jobId, owner, String(ttlMs), states],
    );
    return result.rows[0] ? toJob(result.rows[0]) : undefined;
  }

  /**
   * Extends this replica's lease before a step that may outlast it (the next launch attempt);
   * false when the lease is no longer ours, and the step must not run.
   */
  async renewLease(jobId: string, owner: string, ttlMs: number): Promise<boolean> {
    const result = await this.pool.query("update gpu_jobs set lease_until = now() + ($3 || ' milliseconds')::interval where id = $1 and lease_owner = $2", [jobId, owner, String(ttlMs)]);
    return result.rowCount === 1;
  }

  /** Commands for the given jobs in one transaction: the work loop hands work to every replica's workers. */
  async enqueueCommands(jobs: ReadonlyArray<{ id: string; state: JobState }>): Promise<void> {
    if (jobs.length === 0) return;
    await this.transaction(async (db) => {
      for (const job of jobs) await enqueueCommand(db, commandFor(job.state), job.id);
    });
  }

  async release(jobId: string, owner: string): Promise<void> {
    await this.pool.query("update gpu_jobs set lease_owner = null, lease_until = null where id = $1 and lease_owner = $2", [jobId, owner]);
  }

  /** Written and committed before the provider is called: a crash after this line leaves a key to look for. */
  async beginAttempt(job: JobRecord, attempt: number, offer: GpuOffer, key: string): Promise<void> {
    await this.pool.query(
      `insert into gpu_attempts (job_id, attempt, provider, offer_id, gpu_model, price_per_hour, idempotency_key, outcome) values ($1, $2, $3, $4, $5, $6, $7, 'pending')`,
      [job.id, attempt, offer.provider, offer.offerId, offer.gpuModel, offer.pricePerHour, key],
    );
  }

  async failAttempt(jobId: string, attempt: number, reason: string, detail: string): Promise<void> {
    await this.pool.query("update gpu_attempts set outcome = 'failed', reason = $3, detail = $4, finished_at = now() where job_id = $1 and attempt = $2", [jobId, attempt, reason, detail.slice(0, 500)]);
  }

  /** The attempt launched (or was found launched): the job runs on its instance from now on. */
  async markLaunched(job: JobRecord, attempt: AttemptRecord, instanceId: string, reason: string, actor: string): Promise<void> {
    await this.transaction(async (db) => {
      await db.query("update gpu_attempts set outcome = 'launched', reason = $3, instance_id = $4, finished_at = now() where job_id = $1 and attempt = $2", [job.id, attempt.attempt, reason, instanceId]);
      await db.query(
        `update gpu_jobs set state = 'running', provider = $2, offer_id = $3, instance_id = $4, price_per_hour = $5, started_at = now(), updated_at = now() where id = $1`,
        [job.id, attempt.provider, attempt.offerId, instanceId, attempt.pricePerHour],
      );
      await appendAudit(db, { actor, action: "instance.launched", jobId: job.id, project: job.project, provider: attempt.provider, instanceId, pricePerHour: attempt.pricePerHour, detail: { offerId: attempt.offerId, key: attempt.idempotencyKey, how: reason } });
      await enqueueStateChange(db, { jobId: job.id, project: job.project, state: "running", provider: attempt.provider, at: new Date().toISOString() });
      await enqueueCommand(db, "monitor", job.id);
    });
  }

  /** A terminal state with the final cost; only from an active state, so a finished job stays finished. */
  async finish(job: JobRecord, state: "succeeded" | "failed" | "cancelled", reason: string, actor: string): Promise<boolean> {
    return this.transaction(async (db) => {
      const updated = await db.query<JobRow>(
        `update gpu_jobs set state = $2, state_reason = $3, finished_at = now(), lease_owner = null, lease_until = null,
           cost_usd = case when started_at is null then cost_usd else round(price_per_hour * extract(epoch from (now() - started_at)) / 3600, 4) end,
           updated_at = now()
         where id = $1 and state = any($4) returning *`,
        [job.id, state, reason, ACTIVE_STATES],
      );
      const row = updated.rows[0];
      if (!row) return false;
      const finished = toJob(row);
      await appendAudit(db, { actor, action: `job.${state}`, jobId: job.id, project: job.project, ...(finished.provider ? { provider: finished.provider } : {}), ...(finished.instanceId ? { instanceId: finished.instanceId } : {}), costUsd: finished.costUsd, detail: { reason } });
      await enqueueStateChange(db, { jobId: job.id, project: job.project, state, reason, costUsd: finished.costUsd, at: new Date().toISOString() });
      return true;
    });
  }

  async recordCost(jobId: string): Promise<JobRecord | undefined> {
    const result = await this.pool.query<JobRow>(
      `update gpu_jobs set cost_usd = round(price_per_hour * extract(epoch from (now() - started_at)) / 3600, 4), updated_at = now()
       where id = $1 and started_at is not null and finished_at is null returning *`,
      [jobId],
    );
    return result.rows[0] ? toJob(result.rows[0]) : undefined;
  }

  async requestCancel(job: JobRecord, actor: string): Promise<JobRecord> {
    return this.transaction(async (db) => {
      const updated = await db.query<JobRow>(`update gpu_jobs set state = 'cancelling', updated_at = now() where id = $1 and state = any($2) returning *`, [job.id, ACTIVE_STATES]);
      const row = updated.rows[0];
      if (!row) return job;
      await appendAudit(db, { actor, action: "job.cancel-requested", jobId: job.id, project: job.project });
      await enqueueStateChange(db, { jobId: job.id, project: job.project, state: "cancelling", at: new Date().toISOString() });
      await enqueueCommand(db, "cancel", job.id);
      return toJob(row);
    });
  }

  /** Jobs some replica should work on now: never claimed, or claimed by a replica whose lease ran out. */
  async jobsNeedingWork(limit: number): Promise<Array<{ id: string; state: JobState }>> {
    const result = await this.pool.query<{ id: string; state: JobState }>(
      `select id, state from gpu_jobs where state = any($1) and (lease_until is null or lease_until < now()) order by updated_at limit $2`,
      [ACTIVE_STATES, limit],
    );
    return result.rows;
  }

  /** Every instance a live job holds, for the orphan reaper. */
  async liveInstances(): Promise<Set<string>> {
    const result = await this.pool.query<{ key: string }>(
      `select a.idempotency_key as key from gpu_attempts a join gpu_jobs j on j.id = a.job_id
       where j.state = any($1) and (a.outcome = 'pending' or (a.outcome = 'launched' and a.instance_id = j.instance_id))`,
      [ACTIVE_STATES],
    );
    return new Set(result.rows.map((row) => row.key));
  }

  /** Success rate per provider and GPU model from the attempt history, with `weight` attempts of the prior. */
  async reliabilities(prior: number, weight: number): Promise<Map<string, number>> {
    const result = await this.pool.query<{ provider: string; gpu_model: string; launched: string; total: string }>(
      `select provider, gpu_model, count(*) filter (where outcome = 'launched') as launched, count(*) filter (where outcome <> 'pending') as total
       from gpu_attempts where started_at > now() - interval '30 days' group by provider, gpu_model`,
    );
    return new Map(result.rows.map((row) => [`${row.provider}:${row.gpu_model}`, (Number(row.launched) + prior * weight) / (Number(row.total) + weight)]));
  }
}
