import { pause } from "@fundament/kit";
import type { ChangeFeed, WakeReason } from "./change-feed";
import type { ConfigEntries, EffectiveConfig } from "./config-entries";
import { CursorAheadError } from "./config-errors";
import { BASE_ENVIRONMENT } from "./overlay";
import type { VersionRecord, VersionStore } from "./version-store";

export interface WatchRequest {
  namespace: string;
  environment: string;
  /** The last version the watcher has; everything newer is returned, oldest first. */
  sinceVersion: number;
  waitMs: number;
  limit: number;
  /** Aborted when the client went away: the wait ends without another query. */
  signal?: AbortSignal;
}

export interface WatchResult {
  versions: VersionRecord[];
  /** Why the call returned: versions were there, the wait ran out, or the service is stopping. */
  outcome: "changed" | "timeout" | "closing" | "aborted";
}

/**
 * Long poll: returns at once when versions newer than `sinceVersion` exist, otherwise waits for
 * a change. The subscription is taken before the query, so a commit landing between the query
 * and the wait still wakes it; after any wake the table is read again, so nothing is skipped.
 */
export async function watchEntry(store: VersionStore, feed: ChangeFeed, request: WatchRequest): Promise<WatchResult> {
  const deadline = Date.now() + request.waitMs;
  for (;;) {
    const subscription = feed.subscribe(request.namespace, request.environment);
    const timer = pause(Math.max(0, deadline - Date.now()), request.signal);
    try {
      const versions = await store.versionsAfter(request.namespace, request.environment, request.sinceVersion, request.limit);
      if (versions.length > 0) return { versions, outcome: "changed" };
      if (feed.closing) return { versions, outcome: "closing" };
      if (request.signal?.aborted) return { versions, outcome: "aborted" };
      if (Date.now() >= deadline) return { versions, outcome: "timeout" };
      const woke: WakeReason | "timeout" | "aborted" = await Promise.race([subscription.next, timer.done]);
      if (woke === "timeout" || woke === "aborted") return { versions, outcome: woke };
      if (woke === "closing") return { versions, outcome: "closing" };
    } finally {
      subscription.cancel();
      timer.cancel();
    }
  }
}

export interface EffectiveWatchRequest {
  namespace: string;
  environment: string;
  /** The base and environment versions the watcher's effective document was built from. */
  baseVersion: number;
  version: number;
  waitMs: number;
  signal?: AbortSignal;
}

export type EffectiveWatchResult =
  | { outcome: "changed"; effective: EffectiveConfig }
  | { outcome: "timeout" | "closing" | "aborted"; baseVersion: number; version: number };

/**
 * Long poll on what an environment's consumers read: wakes when either the base or the
 * environment's own entry moves past the watcher's pair of versions, and answers with the
 * effective document as it is now (intermediate versions do not matter to a consumer of it).
 */
export async function watchEffective(
  store: VersionStore,
  entries: ConfigEntries,
  feed: ChangeFeed,
  request: EffectiveWatchRequest,
): Promise<EffectiveWatchResult> {
  const { namespace, environment } = request;
  const ownEntry = environment !== BASE_ENVIRONMENT;
  const deadline = Date.now() + request.waitMs;
  for (;;) {
    const subscriptions = [feed.subscribe(namespace, BASE_ENVIRONMENT), ...(ownEntry ? [feed.subscribe(namespace, environment)] : [])];
    const timer = pause(Math.max(0, deadline - Date.now()), request.signal);
    try {
      const base = await store.currentVersion(namespace, BASE_ENVIRONMENT);
      const own = ownEntry ? await store.currentVersion(namespace, environment) : base;
      if (request.baseVersion > base) throw new CursorAheadError("querystring.baseVersion", request.baseVersion, base);
      if (request.version > own) throw new CursorAheadError("querystring.version", request.version, own);
      if (base > request.baseVersion || own > request.version) {
        // The versions come from PostgreSQL; this replica's copies may not have heard of them yet
        // (written through another replica), and the answer must not be older than what it reports.
        const effective = await entries.effective(namespace, environment, { version: own, field: "querystring.version" }, { version: base, field: "querystring.baseVersion" });
        return { outcome: "changed", effective };
      }
      const unchanged = { baseVersion: base, version: own };
      if (feed.closing) return { outcome: "closing", ...unchanged };
      if (request.signal?.aborted) return { outcome: "aborted", ...unchanged };
      if (Date.now() >= deadline) return { outcome: "timeout", ...unchanged };
      const woke = await Promise.race([...subscriptions.map((s) => s.next), timer.done]);
      if (woke === "timeout" || woke === "aborted" || woke === "closing") return { outcome: woke, ...unchanged };
    } finally {
      for (const subscription of subscriptions) subscription.cancel();
      timer.cancel();
    }
  }
}
