import { isIP } from "node:net";
import { connect, type ChannelModel } from "amqplib";
import { settleWithin } from "./bounded-wait";
import type { ResolvedMessagingOptions } from "./messaging-options";

/** How long a close waits for the broker's reply before the connection is given up on. */
const BROKER_REPLY_MS = 5_000;

/**
 * tls.connect options for AMQPS: the CA, and the host name the certificate must carry (amqplib
 * names no server for an IP address, so the endpoint's own name is passed explicitly).
 * Verification stays Node's default (on); nothing here can turn it off.
 */
export function amqpTlsSocketOptions(endpoint: ResolvedMessagingOptions["endpoint"]): { ca?: string; servername?: string } {
  if (!endpoint.tls) return {};
  const servername = endpoint.tls.servername ?? (isIP(endpoint.host) === 0 ? endpoint.host : undefined);
  return { ...(endpoint.tls.ca !== undefined ? { ca: endpoint.tls.ca } : {}), ...(servername !== undefined ? { servername } : {}) };
}

/** Runs on every new connection before it counts as connected (open channels, re-declare, re-consume). */
export type ConnectionSetup = (model: ChannelModel) => Promise<void>;

interface Waiter {
  resolve: (model: ChannelModel | undefined) => void;
}

/**
 * One AMQP connection that comes back by itself: when it is lost (broker restart, network), it
 * reconnects with capped exponential backoff and runs the setup again, so channels, declarations
 * and consumers are restored without the service doing anything.
 */
export class ReconnectingConnection {
  private current: ChannelModel | undefined;
  private closed = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastError: Error | undefined;
  private readonly waiters = new Set<Waiter>();
  private readonly setups: ConnectionSetup[] = [];

  constructor(private readonly options: ResolvedMessagingOptions) {}

  get connection(): ChannelModel | undefined {
    return this.current;
  }

  get isConnected(): boolean {
    return this.current !== undefined;
  }

  /** Where and why, without the password: for errors and logs. */
  describe(): string {
    const { host, port, vhost, user } = this.options.endpoint;
    const target = `${this.options.endpoint.tls ? "amqps" : "amqp"}://${user}@${host}:${port}/${encodeURIComponent(vhost)}`;
    return this.lastError ? `${target}: ${this.lastError.message}` : target;
  }

  onConnect(setup: ConnectionSetup): void {
    this.setups.push(setup);
  }

  /** Connects, retrying until connectTimeoutMs; rejects with the last error after that. */
  async start(): Promise<void> {
    const deadline = Date.now() + this.options.connectTimeoutMs;
    void this.tryConnect();
    const model = await this.waitForConnection(deadline);
    if (!model) {
      await this.close();
      throw new Error(`messaging: could not connect within ${this.options.connectTimeoutMs} ms (${this.describe()})`);
    }
  }

  /** The open connection, or undefined if none opened before the deadline (or after close). */
  waitForConnection(deadline: number): Promise<ChannelModel | undefined> {
    if (this.current) return Promise.resolve(this.current);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve: (model) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(model);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(this.current);
      }, Math.max(0, deadline - Date.now()));
      this.waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const model = this.current;
    this.current = undefined;
    for (const waiter of [...this.waiters]) waiter.resolve(undefined);
    if (model) await settleWithin(model.close(), BROKER_REPLY_MS);
  }

  private async tryConnect(): Promise<void> {
    if (this.closed) return;
    const { endpoint, heartbeatSeconds, connectionName, logger } = this.options;
    let model: ChannelModel | undefined;
    let lost = false;
    try {
      model = await connect(
        { protocol: endpoint.tls ? "amqps" : "amqp", hostname: endpoint.host, port: endpoint.port, vhost: endpoint.vhost, username: endpoint.user, password: endpoint.password, heartbeat: heartbeatSeconds },
        { clientProperties: { connection_name: connectionName }, timeout: 10_000, ...amqpTlsSocketOptions(endpoint) },
      );
      const opened = model;
      // Without an error listener a lost socket would crash the process.
      opened.on("error", (error: Error) => {
        this.lastError = error;
      });
      opened.on("close", (error?: Error) => {
        lost = true;
        if (error) this.lastError = error;
        if (this.current !== opened) return;
        this.current = undefined;
        logger?.warn({ err: error, broker: this.describe() }, "broker connection lost; reconnecting");
        this.scheduleReconnect();
      });
      for (const setup of this.setups) await setup(opened);
      if (this.closed) {
        await settleWithin(opened.close(), BROKER_REPLY_MS);
        return;
      }
      if (lost) throw this.lastError ?? new Error("connection closed during setup");
      this.current = opened;
      this.attempt = 0;
      if (this.lastError) logger?.info({ broker: this.describe() }, "broker connection restored");
      this.lastError = undefined;
      for (const waiter of [...this.waiters]) waiter.resolve(opened);
    } catch (error) {
      this.lastError = error as Error;
      if (model && !lost) await settleWithin(model.close(), BROKER_REPLY_MS);
      logger?.warn({ err: error, broker: this.describe(), attempt: this.attempt }, "broker connection attempt failed");
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer) return;
    const { initialDelayMs, maxDelayMs } = this.options;
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt);
    // Jitter keeps every service from reconnecting to a restarted broker in the same instant.
    const delay = Math.round(base * (0.8 + Math.random() * 0.2));
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tryConnect();
    }, delay);
  }
}
