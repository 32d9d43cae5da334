import type { Logger, Pool, PoolClient } from "@fundament/kit";
import { type MessageType, PublishError, type PublishOptions } from "@fundament/kit/messaging";

/** What the relay needs from the broker: a publish that resolves on the broker's confirm. */
export interface EventPublisher {
  publish<T>(type: MessageType<T>, payload: T, options?: PublishOptions): Promise<void>;
}

/** Writes an event in the caller's transaction; it is sent only if that transaction commits. */
export async function enqueueEvent<T>(db: PoolClient, type: MessageType<T>, payload: T): Promise<void> {
  // Validated now, so a bad payload fails the request instead of sitting in the outbox forever.
  if (!type.validate(payload)) throw new Error(`event ${type.name} does not match its schema`);
  await db.query("insert into outbox (type, payload) values ($1, $2)", [type.name, JSON.stringify(payload)]);
}

const BATCH = 100;

/**
 * Sends outbox rows to the broker and deletes them once confirmed. Rows are locked with
 * SKIP LOCKED, so replicas relay side by side without sending a row twice in the normal case
 * (a crash between confirm and commit resends it: consumers dedupe on the message id).
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly publisher: EventPublisher,
    private readonly types: ReadonlyMap<string, MessageType<unknown>>,
    private readonly log: Logger,
    private readonly pollMs: number,
  ) {}

  start(): void {
    this.schedule();
    this.kick();
  }

  /** Relay now (after a commit that enqueued something); coalesces with a run in progress. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => this.log.warn({ err }, "outbox relay failed; retrying on the next poll"))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  private schedule(): void {
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    while (!this.stopped && (await this.relayBatch()) === BATCH);
  }

  private async relayBatch(): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      const rows = await client.query<{ id: string; message_id: string; type: string; payload: unknown }>(
        "select id, message_id, type, payload from outbox order by id limit $1 for update skip locked",
        [BATCH],
      );
      const sent: string[] = [];
      try {
        for (const row of rows.rows) {
          const type = this.types.get(row.type);
          if (!type) throw new Error(`outbox row ${row.id}: unknown event type ${row.type}`);
          try {
            await this.publisher.publish(type, row.payload, { messageId: row.message_id });
          } catch (error) {
            // No queue is bound for this event: nobody subscribes to it, so it is delivered to
            // nobody, as pub/sub means. Keeping it would retry it forever and block the rows after it.
            if (!(error instanceof PublishError && error.unroutable)) throw error;
            this.log.info({ event: row.type, messageId: row.message_id }, "event has no subscriber; dropped");
          }
          sent.push(row.id);
        }
      } finally {
        if (sent.length > 0) await client.query("delete from outbox where id = any ($1::bigint[])", [sent]);
        await client.query("commit");
      }
      return rows.rows.length;
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Stops polling and waits for a relay in progress, so no publish is cut off mid-way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
