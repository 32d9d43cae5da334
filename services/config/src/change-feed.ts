import { Client, type ClientConfig } from "pg";
import { connectionFields, postgresTls, type Logger } from "@fundament/kit";
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

/**
 * The LISTEN connection's settings from a postgres:// URL and the password file. pg lets fields
 * parsed from a connection string override explicit ones, so the URL is taken apart. LISTEN
 * needs a session of its own: through PgBouncer in transaction mode the server connection is
 * handed to other clients between transactions and the notifications never arrive, so the URL
 * is the server's (DATABASE_LISTEN_URL), not PgBouncer's.
 */
export function listenConnection(url: string, password: string, ca: string): ClientConfig {
  return {
    port: 5432,
    ...connectionFields(url),
    password,
    ssl: postgresTls(ca),
    application_name: "config-change-feed",
    // The connection is idle by design; keepalive notices one a firewall dropped silently.
    keepAlive: true,
    // A connect whose packets vanish would otherwise wait forever, and the feed never retry.
    connectionTimeoutMillis: 10_000,
  };
}

export interface PostgresChangeFeedOptions {
  connection: ClientConfig;
  logger: Logger;
  /** First reconnect delay after the LISTEN connection drops; doubles up to 10 s. */
  reconnectDelayMs?: number;
  /**
   * How often the idle LISTEN connection is asked a `SELECT 1`; no answer within twice that
   * counts as a lost connection (a busy server or event loop is not a dead one). Bounds how long
   * a connection that died silently (no RST from a vanished peer) passes for a live one: at most
   * three periods. Default 5000.
   */
  heartbeatMs?: number;
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
  private stretch = 0;
  private heartbeat: NodeJS.Timeout | undefined;

  private constructor(private readonly options: PostgresChangeFeedOptions) {}

  static async start(options: PostgresChangeFeedOptions): Promise<PostgresChangeFeed> {
    const feed = new PostgresChangeFeed(options);
    await feed.connect();
    return feed;
  }

  get closing(): boolean {
    return this.waiters.closing;
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.connected;
  }

  get continuity(): number | undefined {
    return this.connected ? this.stretch : undefined;
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
    clearInterval(this.heartbeat);
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
      clearInterval(this.heartbeat);
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
    this.stretch += 1;
    this.connected = true;
    this.startHeartbeat(client, lost);
  }

  private startHeartbeat(client: Client, lost: (error?: Error) => void): void {
    const periodMs = this.options.heartbeatMs ?? 5000;
    let inFlight = false;
    this.heartbeat = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>((_resolve, reject) => {
        // setImmediate runs after the poll phase: an answer that arrived while this process was
        // busy (a blocked event loop is not a dead connection) is read before the verdict.
        timer = setTimeout(() => setImmediate(() => reject(new Error(`LISTEN connection did not answer within ${2 * periodMs} ms`))), 2 * periodMs);
      });
      Promise.race([client.query("SELECT 1"), silent]).then(
        () => undefined,
        (error: unknown) => lost(error instanceof Error ? error : new Error(String(error))),
      ).finally(() => {
        clearTimeout(timer);
        inFlight = false;
      });
    }, periodMs);
    this.heartbeat.unref();
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
