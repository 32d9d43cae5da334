-- The kit's outbox relay sends gpu_outbox rows: each needs a message id (the consumers' dedup key)
-- and carries the trace context of the request that wrote it, so the commands and events a
-- request causes continue its trace.
alter table gpu_outbox add column message_id uuid not null default gen_random_uuid();
alter table gpu_outbox add column trace_context jsonb;
