-- Emails are stored normalised (trimmed, lower-case) so the unique constraint is the whole rule.
create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null unique,
  display_name text,
  password_hash text not null,
  roles text[] not null default '{user}',
  disabled_at timestamptz,
  disabled_by uuid references users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index users_admins on users (created_at) where 'admin' = any (roles);
