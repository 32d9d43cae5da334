import type { ChangeEvent } from "./version-store";
import type { IdentitySource } from "./database-identity";

/** The database identity and the feed's continuity a read started under. */
export interface ReadUnder {
  identity: string | undefined;
  continuity: number | undefined;
}

/** What the change feed tells the cache: the events, and whether it could have missed any. */
export interface ChangeSource {
  onChange(listener: (event: ChangeEvent) => void): void;
  readonly continuity: number | undefined;
}

/** An entry's current version as this replica holds it, or (version 0, no text) that it has none yet. */
export type HeldCopy = { version: number; json: string } | { version: 0; json: undefined };

type Held = HeldCopy & { identity: string; continuity: number };

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
 * - that an entry has no version yet is held too (version 0), so an environment read through its
 *   base alone costs no Redis or PostgreSQL read; the first version's NOTIFY ends it like any other;
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

  /** The held copy, when it can be trusted now; `json` undefined when the entry has no version yet. */
  get(namespace: string, environment: string): HeldCopy | undefined {
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
  offer(record: { namespace: string; environment: string; version: number }, json: string, readUnder: ReadUnder): boolean {
    return this.hold(record.namespace, record.environment, { version: record.version, json }, readUnder);
  }

  /** Holds that the entry had no version when read (under `readUnder`); refused as `offer` is. */
  offerNone(entry: { namespace: string; environment: string }, readUnder: ReadUnder): boolean {
    return this.hold(entry.namespace, entry.environment, { version: 0, json: undefined }, readUnder);
  }

  private hold(namespace: string, environment: string, copy: HeldCopy, readUnder: ReadUnder): boolean {
    const continuity = this.feed.continuity;
    const identity = this.identity.current;
    if (continuity === undefined || identity === undefined) return false;
    if (readUnder.continuity !== continuity || readUnder.identity !== identity) return false;
    const key = keyOf(namespace, environment);
    if ((this.notifiedNow().get(key) ?? 0) > copy.version) return false;
    const held = this.held.get(key);
    if (held !== undefined && held.continuity === continuity && held.identity === identity && held.version >= copy.version) return false;
    this.held.delete(key);
    this.held.set(key, { ...copy, identity, continuity });
    if (this.held.size > this.maxEntries) {
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
    return true;
  }

  /** What to pass to `offer` for a read about to start. */
  get readUnder(): ReadUnder {
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
