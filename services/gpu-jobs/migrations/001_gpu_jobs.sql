-- Per-project budgets in USD; a submission reserves its worst case (maxPricePerHour × estimatedHours).
create table gpu_budgets (
  project text primary key,
  limit_usd numeric(14, 4) not null check (limit_usd >= 0),
  updated_by text not null,
  updated_at timestamptz not null default now()
);

create table gpu_jobs (
  id uuid primary key,
  project text not null,
  submitted_by text not null,
  image text not null,
  command text[] not null,
  -- name -> {"value": "..."} or {"secretRef": "..."}; a secret's value is never stored, only its name.
  environment jsonb not null,
  request jsonb not null,
  max_price_per_hour numeric(12, 4) not null check (max_price_per_hour > 0),
  estimated_hours numeric(10, 4) not null check (estimated_hours > 0),
  reserved_usd numeric(14, 4) not null,
  deadline timestamptz,
  state text not null check (state in ('queued', 'placing', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled')),
  state_reason text,
  provider text,
  offer_id text,
  instance_id text,
  price_per_hour numeric(12, 4),
  started_at timestamptz,
  finished_at timestamptz,
  cost_usd numeric(14, 4) not null default 0,
  -- Which replica works on the job until when: a crashed replica's lease runs out and another resumes.
  lease_owner text,
  lease_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index gpu_jobs_project_state on gpu_jobs (project, state, created_at desc);
create index gpu_jobs_active on gpu_jobs (state) where state in ('queued', 'placing', 'running', 'cancelling');

-- Written before the provider is called (outcome 'pending'): a crash between the call and its answer
-- leaves a pending row whose idempotency key is looked up at the provider before anything else.
create table gpu_attempts (
  id bigserial primary key,
  job_id uuid not null references gpu_jobs (id),
  attempt integer not null,
  provider text not null,
  offer_id text not null,
  gpu_model text not null,
  price_per_hour numeric(12, 4) not null,
  idempotency_key text not null unique,
  outcome text not null check (outcome in ('pending', 'launched', 'failed')),
  reason text,
  detail text,
  instance_id text,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  unique (job_id, attempt)
);
create index gpu_attempts_provider_model on gpu_attempts (provider, gpu_model, outcome);

-- Append-only: who did what to which GPU, at what price and cost.
create table gpu_audit (
  id bigserial primary key,
  at timestamptz not null default now(),
  actor text not null,
  action text not null,
  job_id uuid,
  project text,
  provider text,
  instance_id text,
  price_per_hour numeric(12, 4),
  cost_usd numeric(14, 4),
  detail jsonb not null default '{}'
);

create function gpu_audit_is_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'gpu_audit is append-only (% refused)', tg_op;
end;
$$;
create trigger gpu_audit_append_only before update or delete or truncate on gpu_audit
  for each statement execute function gpu_audit_is_append_only();

-- Events wait here in the transaction that caused them; a relay publishes and deletes them.
create table gpu_outbox (
  id bigserial primary key,
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null default now()
);
