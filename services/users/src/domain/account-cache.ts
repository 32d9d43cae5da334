import type { UserRecord } from "./user-records";

/** What the cache needs of the change feed: which unbroken stretch of listening it is in. */
export interface ListeningStretch {
  /** Changes whenever changes may have been missed; undefined while none are heard. */
  readonly continuity: number | undefined;
}

export interface AccountCacheOptions {
  /** Accounts held at most; the oldest insertion goes first. 0 holds none. */
  maxEntries: number;
  /** A safety net only (coherence comes from the feed): no copy is older than this. 0 holds none. */
  ttlMs: number;
  now?: () => number;
}

/** Taken before a read starts: its result is held only if nothing changed the account since. */
export interface ReadTicket {
  readonly generation: number;
  readonly continuity: number | undefined;
}

interface Held {
  user: UserRecord;
  expiresAt: number;
  continuity: number;
}

/** Recent changes remembered per account, for reads still in flight; older ones fold into `floor`. */
const CHANGES_REMEMBERED = 10_000;

/**
 * Accounts held in this process for authenticated requests, kept coherent by the change feed
 * (every replica LISTENs to the trigger's NOTIFY, migrations/005_account_change_notify.sql):
 *
 * - a notification, or this replica's own write, drops the account's copy, and a read that
 *   started before it cannot put the old row back (its ticket is older than the change);
 * - a copy counts only under the feed's stretch of listening it was read in: while the LISTEN
 *   connection is down nothing is held or served (reads go to PostgreSQL), and after it
 *   reconnects nothing learnt before is trusted, since notifications sent in between are lost.
 *
 * Another replica's change is therefore seen here once its NOTIFY arrives (PostgreSQL sends it
 * at commit); test/replica-accounts.test.ts measures how long that takes.
 */
export class AccountCache {
  private readonly held = new Map<string, Held>();
  private readonly changedAt = new Map<string, number>();
  private generation = 0;
  /** Reads whose ticket is older than this are refused: a change they may have missed was forgotten. */
  private floor = 0;
  private readonly now: () => number;

  constructor(
    private readonly feed: ListeningStretch,
    private readonly options: AccountCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The held copy, when it can be trusted now. */
  get(id: string): UserRecord | undefined {
    const held = this.held.get(id);
    if (held === undefined) return undefined;
    if (held.continuity !== this.feed.continuity || held.expiresAt <= this.now()) {
      this.held.delete(id);
      return undefined;
    }
    return held.user;
  }

  ticket(): ReadTicket {
    return { generation: this.generation, continuity: this.feed.continuity };
  }

  /** Holds an account read under `ticket`; refused when it may already be stale. */
  offer(user: UserRecord, ticket: ReadTicket): boolean {
    const continuity = this.feed.continuity;
    if (continuity === undefined || ticket.continuity !== continuity) return false;
    if (this.options.maxEntries <= 0 || this.options.ttlMs <= 0) return false;
    if (ticket.generation < this.floor || (this.changedAt.get(user.id) ?? -1) > ticket.generation) return false;
    this.held.delete(user.id);
    this.held.set(user.id, { user, expiresAt: this.now() + this.options.ttlMs, continuity });
    if (this.held.size > this.options.maxEntries) {
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
    return true;
  }

  /** The account changed (a notification, or this replica's own committed write). */
  changed(id: string): void {
    this.generation += 1;
    this.held.delete(id);
    this.changedAt.delete(id);
    this.changedAt.set(id, this.generation);
    if (this.changedAt.size > CHANGES_REMEMBERED) {
      const [oldest, at] = this.changedAt.entries().next().value as [string, number];
      this.changedAt.delete(oldest);
      this.floor = Math.max(this.floor, at);
    }
  }

  /** Every account may have changed: drop all, and refuse every read already under way. */
  flush(): void {
    this.generation += 1;
    this.floor = this.generation;
    this.held.clear();
    this.changedAt.clear();
  }

  get size(): number {
    return this.held.size;
  }
}
