import type { Logger } from "@fundament/kit";
import type { Provider } from "../placement/rank-offers";
import type { ProviderAdapter } from "../providers/provider-adapter";
import { appendAudit, type JobStore } from "./job-store";

/**
 * Terminates every instance that carries the platform's key prefix and belongs to no live job
 * (a launch that succeeded after its job gave up on it, a job finished while its terminate
 * failed). Instances without the prefix are never touched: they are not ours.
 */
export async function reapOrphans(store: JobStore, adapters: ReadonlyMap<Provider, ProviderAdapter>, logger: Logger): Promise<Array<{ provider: Provider; instanceId: string }>> {
  const reaped: Array<{ provider: Provider; instanceId: string }> = [];
  for (const adapter of adapters.values()) {
    let owned;
    try {
      owned = await adapter.listOwned();
    } catch (error) {
      logger.warn({ err: error, provider: adapter.provider }, "orphan reaper could not list instances");
      continue;
    }
    // Read after listing: a launch recorded in between is then live, never reaped by mistake.
    const live = await store.liveInstances();
    for (const instance of owned) {
      if (live.has(instance.key) || instance.state === "terminated") continue;
      await adapter.terminate(instance.instanceId);
      await store.transaction((db) => appendAudit(db, { actor: "gpu-jobs", action: "instance.reaped", provider: adapter.provider, instanceId: instance.instanceId, detail: { key: instance.key } }));
      reaped.push({ provider: adapter.provider, instanceId: instance.instanceId });
    }
  }
  return reaped;
}
