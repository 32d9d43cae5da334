import type { PoolClient } from "@fundament/kit";
import { enqueueMessage, type MessageType, type OutboxTable } from "@fundament/kit/messaging";

/** The users service's outbox (migrations/003_outbox.sql, 004_outbox_trace_context.sql), relayed by the kit's OutboxRelay. */
export const USERS_OUTBOX: OutboxTable = { name: "outbox", channel: "users_outbox" };

/** Writes an event in the caller's transaction; it is sent only if that transaction commits. */
export function enqueueEvent<T>(db: PoolClient, type: MessageType<T>, payload: T): Promise<void> {
  return enqueueMessage(db, USERS_OUTBOX, type, payload);
}
