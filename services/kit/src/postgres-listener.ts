import { Client, type ClientConfig } from "pg";
import type { Logger } from "./logger";
import { connectionFields, postgresTls } from "./postgres";

/**
 * The LISTEN connection's settings from a postgres:// URL and the password file. pg lets fields
 * parsed from a connection string override explicit ones, so the URL is taken apart. LISTEN
 * needs a session of its own: through PgBouncer in transaction mode the server connection is
 * handed to other clients between transactions and the notifications never arrive, so the URL
 * is the server's (DATABASE_LISTEN_URL), not PgBouncer's.
 */
export function listenConnection(url: string, password: string, ca: string, applicationName: string): ClientConfig {
  return {
    port: 5432,
    ...connectionFields(url),
    password,
    ssl: postgresTls(ca),
    // Names the session in pg_stat_activity, so an operator (or a test) can find and end it.
    application_name: applicationName,
    // The connection is idle by design; keepalive notices one a firewall dropped silently.
    keepAlive: true,
    // A connect whose packets vanish would otherwise wait forever, and the listener never retry.
    connectionTimeoutMillis: 10_000,
  };
}

export interface PostgresListenerOptions {
  connection: ClientConfig;
  /** The channels to LISTEN on; each must be a plain SQL identifier. */
  channels: string[];
  logger: Logger;
  /** What the log lines call it ("config change feed"). */
  name: string;
  /** Every notification on one of the channels, in the order PostgreSQL delivers them. */
  onNotification(channel: string, payload: string): void;
  /** The connection is gone: from now on notifications may be missed, until `onResumed`. */
  onLost?(): void;
  /** Listening again after a loss; what was notified in between is lost. */
  onResumed?(): void;
  /** First reconnect delay after the connection drops; doubles up to 10 s. Default 200. */
  reconnectDelayMs?: number;
  /**
   * How often the idle connection is asked a `SELECT 1`; no answer within twice that counts as a
   * lost connection (a busy server or event loop is not a dead one). Bounds how long a connection
   * that died silently (no RST from a vanished peer) passes for a live one: at most three
   * periods. Default 5000.
   */
  heartbeatMs?: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * A dedicated PostgreSQL session that LISTENs, so a write committed by any replica (any code
 * path, with a trigger or pg_notify in its transaction) reaches every replica. It reconnects on
 * its own, and says when it could have missed something: `continuity` names the current
 * unbroken stretch of listening, so an in-process cache can trust what it learnt only under
 * the stretch it learnt it in.
 */
export class PostgresListener {
  private client: Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  private connected = false;
  private stretch = 0;

  private constructor(private readonly options: PostgresListenerOptions) {
    const bad = options.channels.filter((channel) => !IDENTIFIER.test(channel));
    if (bad.length > 0 || options.channels.length === 0) throw new Error(`${options.name}: channels must be lower-case SQL identifiers (got ${JSON.stringify(options.channels)})`);
  }

  /** Resolves once listening; rejects when the first connection fails (start-up should stop). */
  static async start(options: PostgresListenerOptions): Promise<PostgresListener> {
    const listener = new PostgresListener(options);
    await listener.connect();
    return listener;
  }

  /** True while notifications can be heard; readiness reports it. */
  get listening(): boolean {
    return this.connected;
  }

  /** Changes whenever notifications may have been missed; undefined while nothing is heard. */
  get continuity(): number | undefined {
    return this.connected ? this.stretch : undefined;
  }

  async close(): Promise<void> {
    this.stopped = true;
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
      if (this.stopped || message.payload === undefined || !this.options.channels.includes(message.channel)) return;
      this.options.onNotification(message.channel, message.payload);
    });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      this.connected = false;
      clearInterval(this.heartbeat);
      if (this.stopped) return;
      this.options.logger.warn({ err: error }, `${this.options.name} lost its PostgreSQL connection; reconnecting`);
      this.options.onLost?.();
      client.end().catch(() => undefined);
      this.scheduleReconnect(this.options.reconnectDelayMs ?? 200);
    };
    client.on("error", lost);
    client.on("end", () => lost());
    try {
      await client.connect();
      for (const channel of this.options.channels) await client.query(`LISTEN ${channel}`);
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
      Promise.race([client.query("SELECT 1"), silent])
        .then(
          () => undefined,
          (error: unknown) => lost(error instanceof Error ? error : new Error(String(error))),
        )
        .finally(() => {
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
          if (this.stopped) return;
          this.options.logger.info(`${this.options.name} listening again`);
          this.options.onResumed?.();
        },
        (error: unknown) => {
          this.options.logger.warn({ err: error }, `${this.options.name} reconnect failed`);
          if (!this.stopped) this.scheduleReconnect(Math.min(delayMs * 2, 10_000));
        },
      );
    }, delayMs);
    this.reconnectTimer.unref();
  }
}
