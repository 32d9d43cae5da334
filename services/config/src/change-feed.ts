import type { ClientConfig } from "pg";
import { listenConnection as kitListenConnection, PostgresListener, type Logger } from "@fundament/kit";
import { CHANGE_CHANNEL, type ChangeEvent, isChangeEvent } from "./version-store";
import type { JsonValue } from "./json-patch";

/** Why a wait ended: a change to the entry, a reconnect (changes may have been missed), or shutdown. */
export type WakeReason = "change" | "resync" | "closing";

export interface Subscription {
  /** Resolves at the next change of the entry (or resync/close); never rejects. */
  readonly next: Promise<WakeReason>;
  cancel(): void;
}

export interface ChangeFeed {
  subscribe(namespace: string, environment: string): Subscription;
  /** Extra listeners for every change (the outbox relay uses it to publish promptly). */
  onChange(listener: (event: ChangeEvent) => void): void;
  /** Wakes every waiter with "closing" and refuses new waits, so long polls end before the app closes. */
  close(): Promise<void>;
  readonly closing: boolean;
  /** Watches waiting right now (a gauge). */
  readonly waiting: number;
  /**
   * Names the current unbroken stretch of listening: it changes whenever changes may have been
   * missed (the connection dropped and came back), and is undefined while nothing is heard. An
   * in-process cache may trust what it learnt only under the stretch it learnt it in.
   */
  readonly continuity: number | undefined;
  /** True while changes can be heard; readiness reports it. */
  readonly listening: boolean;
}

type Waiter = (reason: WakeReason) => void;

/**
 * In-process fan-out of change events to waiters, keyed by entry. On its own it is the feed of
 * a single process (a benchmark); PostgresChangeFeed feeds it from NOTIFY for real deployments.
 */
export class ChangeWaiters implements ChangeFeed {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly listeners: Array<(event: ChangeEvent) => void> = [];
  private isClosing = false;

  get closing(): boolean {
    return this.isClosing;
  }

  /** One process hears its own changes directly: one stretch, never broken. */
  get continuity(): number | undefined {
    return 0;
  }

  get listening(): boolean {
    return true;
  }

  subscribe(namespace: string, environment: string): Subscription {
    const key = `${namespace}\u0000${environment}`;
    let waiter: Waiter = () => undefined;
    const next = new Promise<WakeReason>((resolve) => {
      waiter = resolve;
    });
    if (this.isClosing) {
      waiter("closing");
      return { next, cancel: () => undefined };
    }
    const set = this.waiters.get(key) ?? new Set<Waiter>();
    set.add(waiter);
    this.waiters.set(key, set);
    const remove = () => {
      set.delete(waiter);
      if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
    };
    return {
      next: next.finally(remove),
      cancel: () => {
        remove();
        waiter("closing");
      },
    };
  }

  onChange(listener: (event: ChangeEvent) => void): void {
    this.listeners.push(listener);
  }

  wake(event: ChangeEvent): void {
    const set = this.waiters.get(`${event.namespace}\u0000${event.environment}`);
    for (const waiter of [...(set ?? [])]) waiter("change");
    for (const listener of this.listeners) listener(event);
  }

  wakeAll(reason: WakeReason): void {
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter(reason);
  }

  async close(): Promise<void> {
    this.isClosing = true;
    this.wakeAll("closing");
  }

  get waiting(): number {
    let total = 0;
    for (const set of this.waiters.values()) total += set.size;
    return total;
  }
}

/** The config service's LISTEN session, named so an operator finds it in pg_stat_activity. */
export function listenConnection(url: string, password: string, ca: string): ClientConfig {
  return kitListenConnection(url, password, ca, "config-change-feed");
}

export interface PostgresChangeFeedOptions {
  connection: ClientConfig;
  logger: Logger;
  /** First reconnect delay after the LISTEN connection drops; doubles up to 10 s. */
  reconnectDelayMs?: number;
  /** How often the idle LISTEN connection is checked (the kit's PostgresListener). Default 5000. */
  heartbeatMs?: number;
}

/**
 * The kit's PostgresListener on the config channel, so a write committed by any replica wakes
 * the watchers of every replica. After a reconnect every waiter is woken with "resync": a NOTIFY
 * sent while the connection was down is lost, and the waiter re-reads the versions table.
 */
export class PostgresChangeFeed implements ChangeFeed {
  private constructor(
    private readonly waiters: ChangeWaiters,
    private readonly listener: PostgresListener,
  ) {}

  static async start(options: PostgresChangeFeedOptions): Promise<PostgresChangeFeed> {
    const waiters = new ChangeWaiters();
    const listener = await PostgresListener.start({
      connection: options.connection,
      channels: [CHANGE_CHANNEL],
      logger: options.logger,
      name: "config change feed",
      onNotification: (_channel, payload) => {
        const event = changeEventOf(payload);
        if (event !== undefined) waiters.wake(event);
      },
      onResumed: () => waiters.wakeAll("resync"),
      ...(options.reconnectDelayMs === undefined ? {} : { reconnectDelayMs: options.reconnectDelayMs }),
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    });
    return new PostgresChangeFeed(waiters, listener);
  }

  get closing(): boolean {
    return this.waiters.closing;
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.listener.listening;
  }

  get continuity(): number | undefined {
    return this.listener.continuity;
  }

  subscribe(namespace: string, environment: string): Subscription {
    return this.waiters.subscribe(namespace, environment);
  }

  onChange(listener: (event: ChangeEvent) => void): void {
    this.waiters.onChange(listener);
  }

  get waiting(): number {
    return this.waiters.waiting;
  }

  async close(): Promise<void> {
    await this.waiters.close();
    await this.listener.close();
  }
}

function changeEventOf(payload: string): ChangeEvent | undefined {
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(payload) as JsonValue;
  } catch {
    return undefined;
  }
  if (!isChangeEvent(parsed)) return undefined;
  return { namespace: parsed.namespace, environment: parsed.environment, version: parsed.version };
}
