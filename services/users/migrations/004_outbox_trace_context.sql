-- The W3C trace context of the request that wrote the row ({"traceparent": ..., "tracestate": ...}),
-- so the relayed message continues that request's trace; null when the request was not traced.
alter table outbox add column trace_context jsonb;
