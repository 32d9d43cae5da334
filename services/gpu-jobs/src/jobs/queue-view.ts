import type { JobStore } from "./job-store";

/** GET /queues: per active state the depth and the oldest job's age, the replicas holding leases, and recent failed attempts. */
export async function queueView(store: JobStore): Promise<unknown> {
  const [states, workers, failures] = await Promise.all([
    store.pool.query<{ state: string; depth: string; oldest: Date }>(
      `select state, count(*) as depth, min(updated_at) as oldest from gpu_jobs where state in ('queued', 'placing', 'running', 'cancelling') group by state order by state`,
    ),
    store.pool.query<{ owner: string; jobs: string }>(`select lease_owner as owner, count(*) as jobs from gpu_jobs where lease_until > now() group by lease_owner`),
    store.pool.query<{ job_id: string; provider: string; offer_id: string; reason: string; finished_at: Date }>(
      `select job_id, provider, offer_id, reason, finished_at from gpu_attempts where outcome = 'failed' order by finished_at desc nulls last limit 20`,
    ),
  ]);
  return {
    queues: states.rows.map((row) => ({ state: row.state, depth: Number(row.depth), oldestAgeSeconds: Math.round((Date.now() - row.oldest.getTime()) / 1000) })),
    workers: workers.rows.map((row) => ({ owner: row.owner, jobs: Number(row.jobs) })),
    recentFailures: failures.rows.map((row) => ({ jobId: row.job_id, provider: row.provider, offerId: row.offer_id, reason: row.reason, at: row.finished_at?.toISOString() ?? null })),
  };
}
