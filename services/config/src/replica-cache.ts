import type { ChangeEvent } from "./version-store";
import type { IdentitySource } from "./database-identity";

/** What the change feed tells the cache: the events, and whether it could have missed any. */
export interface ChangeSource {
  onChange(listener: (event: ChangeEvent) => void): void;
  readonly continuity: number | undefined;
}

interface Held {
  version: number;
  json: string;
  identity: string;
  continuity: number;
}

export interface ReplicaCacheOptions {
  /** Entries held at most; the oldest insertion goes first. Default 10,000. */
  maxEntries?: number;
}

/**
 * Current versions held in this process, in front of Redis and PostgreSQL, kept coherent by the
 * change feed every replica already LISTENs to:
 *
 * - a NOTIFY of version N drops any held copy older than N, and remembers N, so a read that
 *   fetched N-1 from Redis while N was being committed cannot put N-1 back (the same race the
 *   Redis cache's set-if-newer closes);
 * - a replica's own write is held at once, so it always reads its own writes;
 * - a copy counts only under the feed's continuity it was learnt in and the database identity
 *   it was read from: while the LISTEN connection is down nothing is served from here, and
 *   after it reconnects (notifications may have been lost) nothing learnt before is, so the
 *   cache never serves a stale copy for longer than the feed takes to notice a dead connection.
 *
 * Another replica's write is therefore visible here once its NOTIFY arrives (PostgreSQL sends it
 * at commit), and the test in test/integration/replica-cache.test.ts measures how long that is.
 */
export class ReplicaCache {
  private readonly held = new Map<string, Held>();
  /** The newest version each entry's notifications named, under the current continuity. */
  private readonly notified = new Map<string, number>();
  private notifiedUnder: number | undefined;
  private readonly maxEntries: number;

  constructor(
    private readonly feed: ChangeSource,
    private readonly identity: IdentitySource,
    options: ReplicaCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    feed.onChange((event) => this.changed(event));
  }

  /** The held copy, when it can be trusted now. */
  get(namespace: string, environment: string): { version: number; json: string } | undefined {
    const key = keyOf(namespace, environment);
    const held = this.held.get(key);
    if (held === undefined) return undefined;
    if (held.continuity !== this.feed.continuity || held.identity !== this.identity.current) {
      this.held.delete(key);
      return undefined;
    }
    return held;
  }

  /**
   * Holds a version read or written under `identity` and `continuity` (both taken before the
   * read); refused when either has changed since, or when a newer version was notified.
   */
  offer(record: { namespace: string; environment: string; version: number }, json: string, readUnder: { identity: string | undefined; continuity: number | undefined }): boolean {
    const continuity = this.feed.continuity;
    const identity = this.identity.current;
    if (continuity === undefined || identity === undefined) return false;
    if (readUnder.continuity !== continuity || readUnder.identity !== identity) return false;
    const key = keyOf(record.namespace, record.environment);
    if ((this.notifiedNow().get(key) ?? 0) > record.version) return false;
    const held = this.held.get(key);
    if (held !== undefined && held.continuity === continuity && held.identity === identity && held.version >= record.version) return false;
    this.held.delete(key);
    this.held.set(key, { version: record.version, json, identity, continuity });
    if (this.held.size > this.maxEntries) {
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
    return true;
  }

  /** What to pass to `offer` for a read about to start. */
  get readUnder(): { identity: string | undefined; continuity: number | undefined } {
    return { identity: this.identity.current, continuity: this.feed.continuity };
  }

  /**
   * The newest version notified for the entry since the feed last (re)connected: a copy read
   * elsewhere (the shared Redis level) that is older is stale, whoever offered it.
   */
  notifiedVersion(namespace: string, environment: string): number | undefined {
    return this.notifiedNow().get(keyOf(namespace, environment));
  }

  get size(): number {
    return this.held.size;
  }

  private changed(event: ChangeEvent): void {
    const key = keyOf(event.namespace, event.environment);
    const notified = this.notifiedNow();
    if ((notified.get(key) ?? 0) < event.version) {
      notified.delete(key);
      notified.set(key, event.version);
      if (notified.size > this.maxEntries) {
        const oldest = notified.keys().next().value;
        if (oldest !== undefined) notified.delete(oldest);
      }
    }
    const held = this.held.get(key);
    if (held !== undefined && held.version < event.version) this.held.delete(key);
  }

  /** Notified versions are only comparable within one continuity: a new stretch starts empty. */
  private notifiedNow(): Map<string, number> {
    const continuity = this.feed.continuity;
    if (continuity !== this.notifiedUnder) {
      this.notified.clear();
      this.notifiedUnder = continuity;
    }
    return this.notified;
  }
}

const keyOf = (namespace: string, environment: string): string => `${namespace}\u0000${environment}`;
