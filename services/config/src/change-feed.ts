import { Client, type ClientConfig } from "pg";
import type { Logger } from "@fundament/kit";
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

/**
 * The LISTEN connection's settings from the service's DATABASE_URL and password file. pg lets
 * fields parsed from a connection string override explicit ones, so the URL is taken apart.
 */
export function listenConnection(url: string, password: string): ClientConfig {
  const parsed = new URL(url);
  return {
    host: decodeURIComponent(parsed.hostname) || "localhost",
    port: Number(parsed.port || 5432),
    database: decodeURIComponent(parsed.pathname.slice(1)),
    user: decodeURIComponent(parsed.username),
    password,
    application_name: "config-change-feed",
    // The connection is idle by design; keepalive notices one a firewall dropped silently.
    keepAlive: true,
  };
}

export interface PostgresChangeFeedOptions {
  connection: ClientConfig;
  logger: Logger;
  /** First reconnect delay after the LISTEN connection drops; doubles up to 10 s. */
  reconnectDelayMs?: number;
}

/**
 * LISTENs on a dedicated PostgreSQL connection, so a write committed by any replica wakes the
 * watchers of every replica. After a reconnect every waiter is woken with "resync": a NOTIFY
 * sent while the connection was down is lost, and the waiter re-reads the versions table.
 */
export class PostgresChangeFeed implements ChangeFeed {
  private readonly waiters = new ChangeWaiters();
  private client: Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private connected = false;

  private constructor(private readonly options: PostgresChangeFeedOptions) {}

  static async start(options: PostgresChangeFeedOptions): Promise<PostgresChangeFeed> {
    const feed = new PostgresChangeFeed(options);
    await feed.connect();
    return feed;
  }

  get closing(): boolean {
    return this.waiters.closing;
  }

  /** True while the LISTEN connection is up; readiness reports it. */
  get listening(): boolean {
    return this.connected;
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
    this.stopped = true;
    await this.waiters.close();
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client(this.options.connection);
    client.on("notification", (message) => {
      if (message.channel !== CHANGE_CHANNEL || message.payload === undefined) return;
      let parsed: JsonValue;
      try {
        parsed = JSON.parse(message.payload) as JsonValue;
      } catch {
        return;
      }
      if (!isChangeEvent(parsed)) return;
      const event: ChangeEvent = { namespace: parsed.namespace, environment: parsed.environment, version: parsed.version };
      this.waiters.wake(event);
    });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.connected = false;
      if (this.stopped) return;
      this.options.logger.warn({ err: error }, "config change feed lost its PostgreSQL connection; reconnecting");
      client.end().catch(() => undefined);
      this.scheduleReconnect(this.options.reconnectDelayMs ?? 200);
    };
    client.on("error", lost);
    client.on("end", () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connected = true;
  }

  private scheduleReconnect(delayMs: number): void {
    this.reconnectTimer = setTimeout(() => {
      this.connect().then(
        () => {
          this.options.logger.info("config change feed listening again");
          this.waiters.wakeAll("resync");
        },
        (error: unknown) => {
          this.options.logger.warn({ err: error }, "config change feed reconnect failed");
          if (!this.stopped) this.scheduleReconnect(Math.min(delayMs * 2, 10_000));
        },
      );
    }, delayMs);
    this.reconnectTimer.unref();
  }
}
