-- Events are written in the same transaction as the change they describe and relayed to
-- RabbitMQ afterwards, so a broker outage neither loses an event nor fails a registration.
create table outbox (
  id bigserial primary key,
  message_id uuid not null default gen_random_uuid(),
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);
