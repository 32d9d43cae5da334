import type { ClientConfig, Pool, PoolClient } from "pg";
import type { Logger } from "pino";
import { PostgresListener } from "../postgres-listener";
import { injectTraceHeaders, type TraceHeaders } from "../trace-context";
import { PublishError } from "./confirm-publisher";
import { describeSchemaErrors, MessageValidationError, type MessageType } from "./message-type";
import type { PublishOptions } from "./messaging-client";

/**
 * Where a service's outbox lives and what its columns are called. The table needs an ordered id,
 * a message id (the consumers' deduplication key), the type name, a jsonb payload and a nullable
 * jsonb column for the trace context of the transaction that wrote the row.
 */
export interface OutboxTable {
  /** Table name, optionally schema-qualified (`outbox`, `gpu.gpu_outbox`). */
  name: string;
  /** NOTIFY channel: enqueueMessage notifies it, the relay LISTENs and relays at once. */
  channel: string;
  columns?: Partial<OutboxColumns>;
}

export interface OutboxColumns {
  id: string;
  messageId: string;
  type: string;
  payload: string;
  traceContext: string;
}

const DEFAULT_COLUMNS: OutboxColumns = { id: "id", messageId: "message_id", type: "type", payload: "payload", traceContext: "trace_context" };
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

interface ResolvedOutboxTable {
  name: string;
  channel: string;
  columns: OutboxColumns;
}

/** Identifiers are interpolated into SQL, so they are checked here once, with every problem named. */
function resolveTable(table: OutboxTable): ResolvedOutboxTable {
  const problems: string[] = [];
  if (typeof table.name !== "string" || !table.name.split(".").every((part) => IDENTIFIER.test(part)) || table.name.split(".").length > 2) {
    problems.push(`name: must be a lowercase SQL identifier, optionally schema-qualified (got ${JSON.stringify(table.name)})`);
  }
  if (typeof table.channel !== "string" || !IDENTIFIER.test(table.channel)) problems.push(`channel: must be a lowercase SQL identifier (got ${JSON.stringify(table.channel)})`);
  const columns: OutboxColumns = { ...DEFAULT_COLUMNS, ...(table.columns ?? {}) };
  for (const [key, column] of Object.entries(columns)) {
    if (typeof column !== "string" || !IDENTIFIER.test(column)) problems.push(`columns.${key}: must be a lowercase SQL identifier (got ${JSON.stringify(column)})`);
  }
  if (problems.length > 0) throw new Error(`outbox table:\n${problems.join("\n")}`);
  return { name: table.name, channel: table.channel, columns };
}

type Queryable = Pick<PoolClient, "query">;

/**
 * Writes a message in the caller's transaction, with the active trace context; it is sent only
 * if that transaction commits, and the NOTIFY (delivered at commit) wakes the relays at once.
 * The payload is validated now, so a bad one fails the request instead of waiting forever.
 */
export async function enqueueMessage<T>(db: Queryable, table: OutboxTable, type: MessageType<T>, payload: T, options: { messageId?: string; traceHeaders?: TraceHeaders } = {}): Promise<void> {
  const { name, channel, columns } = resolveTable(table);
  if (!type.validate(payload)) throw new MessageValidationError(type.name, describeSchemaErrors(type.validate.errors));
  const trace = options.traceHeaders ?? injectTraceHeaders();
  const traceContext = trace.traceparent === undefined ? null : JSON.stringify(trace);
  if (options.messageId === undefined) {
    await db.query(`insert into ${name} (${columns.type}, ${columns.payload}, ${columns.traceContext}) values ($1, $2, $3)`, [type.name, JSON.stringify(payload), traceContext]);
  } else {
    await db.query(`insert into ${name} (${columns.messageId}, ${columns.type}, ${columns.payload}, ${columns.traceContext}) values ($1, $2, $3, $4)`, [options.messageId, type.name, JSON.stringify(payload), traceContext]);
  }
  await db.query("select pg_notify($1, '')", [channel]);
}

/** What the relay needs from the broker: a publish that resolves on the broker's confirm. */
export interface OutboxPublisher {
  publish<T>(type: MessageType<T>, payload: T, options?: PublishOptions): Promise<void>;
}

export interface OutboxRelayOptions {
  pool: Pool;
  publisher: OutboxPublisher;
  table: OutboxTable;
  /** The types rows may name; a row of another type stops the relay with an error naming it. */
  types: readonly MessageType<unknown>[] | ReadonlyMap<string, MessageType<unknown>>;
  logger: Logger;
  /**
   * A session of the relay's own for LISTEN, straight to PostgreSQL (listenConnection of
   * DATABASE_LISTEN_URL), so a committed row is relayed at once. Not the pool's: through
   * PgBouncer's transaction pooling a LISTEN lands on a server connection handed to other clients
   * when the statement ends, and the notifications never reach the relay. Without it the relay
   * sends what kick() announces and polls for the rest.
   */
  listen?: ClientConfig;
  /** Poll period: the safety net for a missed NOTIFY (a relay started after the commit, a lost listener). */
  pollMs: number;
  /** Rows per transaction. Default 100. */
  batchSize?: number;
}

interface OutboxRow {
  id: string;
  message_id: string;
  type: string;
  payload: unknown;
  trace_context: TraceHeaders | null;
}

/**
 * Sends outbox rows to the broker and deletes them once the broker confirmed them, in id order.
 * Rows are locked with SKIP LOCKED, so replicas relay side by side without sending a row twice
 * in the normal case (a crash between confirm and commit resends it: consumers dedupe on the
 * message id). A committed row is relayed at once when its writer calls kick() after the commit
 * or the relay LISTENs (`listen`) and hears the commit's NOTIFY; at the latest on the next poll.
 */
export class OutboxRelay {
  private readonly table: ResolvedOutboxTable;
  private readonly types: ReadonlyMap<string, MessageType<unknown>>;
  private readonly batchSize: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private listener: PostgresListener | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly options: OutboxRelayOptions) {
    this.table = resolveTable(options.table);
    this.types = options.types instanceof Map ? (options.types as ReadonlyMap<string, MessageType<unknown>>) : new Map((options.types as readonly MessageType<unknown>[]).map((type) => [type.name, type]));
    this.batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(options.pollMs) || options.pollMs < 1) throw new Error(`outbox relay: pollMs must be a positive integer (got ${JSON.stringify(options.pollMs)})`);
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.timer.unref();
    if (this.options.listen) this.starting = this.listen(this.options.listen);
    this.kick();
  }

  /** Relay now; coalesces with a run in progress (which then runs once more). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => this.options.logger.warn({ err, outbox: this.table.name }, "outbox relay failed; retrying on the next poll"))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** True while a LISTEN session hears the outbox's notifications; false when polling only. */
  get listening(): boolean {
    return this.listener?.listening ?? false;
  }

  /** Stops polling and listening, and waits for a relay in progress, so no publish is cut off mid-way. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.starting;
    await this.listener?.close();
    this.listener = undefined;
    await this.running;
  }

  /**
   * The kit's PostgresListener reconnects on its own once it has listened; a first connection that
   * fails is retried here after a poll period. Until then, and whenever the session is lost, the
   * poll covers; on listening (again) one pass sends what was committed unheard.
   */
  private async listen(connection: ClientConfig): Promise<void> {
    if (this.stopped) return;
    try {
      const listener = await PostgresListener.start({
        connection,
        channels: [this.table.channel],
        logger: this.options.logger,
        name: `outbox relay (${this.table.name})`,
        onNotification: () => this.kick(),
        onResumed: () => this.kick(),
      });
      if (this.stopped) {
        await listener.close();
        return;
      }
      this.listener = listener;
      this.kick();
    } catch (err) {
      this.options.logger.warn({ err, outbox: this.table.name }, "outbox relay could not listen; polling only until it can");
      setTimeout(() => {
        if (!this.stopped) this.starting = this.listen(connection);
      }, this.options.pollMs).unref();
    }
  }

  private async drain(): Promise<void> {
    while (!this.stopped && (await this.relayBatch()) === this.batchSize);
  }

  private async relayBatch(): Promise<number> {
    const { name, columns } = this.table;
    const client = await this.options.pool.connect();
    // The connection may die while the transaction waits for a confirm (a server restart, the
    // idle-in-transaction timeout on a starved machine): without a listener that is an uncaught
    // error. The row stays locked only until then, and the next pass sends it.
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
      this.options.logger.warn({ err, outbox: name }, "outbox connection lost mid-relay; its rows wait for the next pass");
    };
    client.on("error", onError);
    try {
      await client.query("begin");
      const rows = await client.query<OutboxRow>(
        `select ${columns.id} as id, ${columns.messageId} as message_id, ${columns.type} as type, ${columns.payload} as payload, ${columns.traceContext} as trace_context
         from ${name} order by ${columns.id} limit $1 for update skip locked`,
        [this.batchSize],
      );
      const sent: string[] = [];
      try {
        for (const row of rows.rows) {
          const type = this.types.get(row.type);
          if (!type) throw new Error(`${name} row ${row.id}: unknown message type ${row.type}`);
          try {
            await this.options.publisher.publish(type, row.payload, { messageId: row.message_id, ...(row.trace_context ? { traceHeaders: row.trace_context } : {}) });
          } catch (error) {
            // An event no queue is bound for has no subscriber: it is delivered to nobody, as
            // pub/sub means, and keeping it would block the rows after it forever. A command
            // nobody receives is a broken deployment: it stays and is retried.
            if (!(error instanceof PublishError && error.unroutable && type.exchange === "events")) throw error;
            this.options.logger.info({ event: row.type, messageId: row.message_id }, "event has no subscriber; dropped");
          }
          sent.push(row.id);
        }
      } finally {
        if (sent.length > 0) await client.query(`delete from ${name} where ${columns.id} = any ($1::bigint[])`, [sent]);
        await client.query("commit");
      }
      return rows.rows.length;
    } catch (error) {
      if (!broken) await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      client.off("error", onError);
      client.release(broken);
    }
  }
}
