import type { Pool } from "pg";
import type { Logger } from "@fundament/kit";
import type { ChangeEvent } from "./version-store";

/** Routing key of a configuration change on the `events` exchange. */
export const CHANGE_ROUTING_KEY = "config.changed";

/** Publishes one event and resolves only once the broker confirmed it. */
export interface ChangePublisher {
  publish(event: ChangeEvent, messageId: string): Promise<void>;
}

export interface OutboxRelayOptions {
  pool: Pool;
  publisher: ChangePublisher;
  logger: Logger;
  /** Sweep period that retries events a failed publish left behind. */
  sweepIntervalMs?: number;
  batchSize?: number;
}

interface OutboxRow {
  id: string;
  namespace: string;
  environment: string;
  version: number;
}

/** One relay at a time across replicas, so events leave in the order their writes committed. */
const RELAY_LOCK_KEY = "7316432815223210001";

/**
 * Moves change events from config_outbox to the broker. A transaction-scoped advisory lock lets one replica relay
 * at a time (the others wait, then find the rows gone), so a namespace's events leave in commit
 * order. A row is deleted only after the broker confirmed it: a crash between the confirm and
 * the delete repeats an event (consumers dedupe on the message id
 * `namespace/environment/version`), never drops one.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly options: OutboxRelayOptions) {}

  start(): void {
    const interval = this.options.sweepIntervalMs ?? 5000;
    this.timer = setInterval(() => this.kick(), interval);
    this.timer.unref();
    this.kick();
  }

  /** Drains the outbox now; calls during a drain coalesce into one more pass. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => this.options.logger.warn({ err }, "config change events not published yet; will retry"))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves once the pass in progress (if any) finished. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.idle();
  }

  private async drain(): Promise<void> {
    const batchSize = this.options.batchSize ?? 100;
    for (;;) {
      const published = await this.publishBatch(batchSize);
      if (published < batchSize || this.stopped) return;
    }
  }

  private async publishBatch(batchSize: number): Promise<number> {
    const client = await this.options.pool.connect();
    // A checked-out client has no pool listener: an 'error' (server gone) would otherwise be uncaught.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on("error", onError);
    try {
      // One transaction, with a transaction-scoped lock and settings: the pool is PgBouncer's
      // transaction pooling, where only a transaction keeps one server connection. A session lock
      // or SET would stay behind on a server connection other clients then get, and the next
      // pass would wait on its own forgotten lock. Waiting for another replica's batch, and for
      // the broker's confirms with the transaction open, is expected: both limits are lifted to
      // 60 s for this transaction only.
      await client.query("BEGIN");
      await client.query("SET LOCAL statement_timeout = '60s'");
      await client.query("SET LOCAL idle_in_transaction_session_timeout = '60s'");
      await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [RELAY_LOCK_KEY]);
      const { rows } = await client.query<OutboxRow>("SELECT id, namespace, environment, version FROM config_outbox ORDER BY id LIMIT $1", [batchSize]);
      const published: string[] = [];
      let failure: unknown;
      for (const row of rows) {
        const event: ChangeEvent = { namespace: row.namespace, environment: row.environment, version: row.version };
        try {
          await this.options.publisher.publish(event, `${row.namespace}/${row.environment}/${row.version}`);
        } catch (error) {
          failure = error;
          break;
        }
        published.push(row.id);
      }
      // What the broker confirmed leaves the outbox even when a later event failed.
      if (published.length > 0) await client.query("DELETE FROM config_outbox WHERE id = ANY($1::bigint[])", [published]);
      await client.query("COMMIT");
      if (failure !== undefined) throw failure;
      return rows.length;
    } catch (error) {
      if (!broken) await client.query("ROLLBACK").catch((rollback: Error) => (broken = rollback));
      throw error;
    } finally {
      client.off("error", onError);
      // A broken connection is destroyed, which also ends its transaction and lock.
      client.release(broken);
    }
  }
}
