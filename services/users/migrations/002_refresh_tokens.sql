-- Only a SHA-256 of each refresh token is kept: a leaked table yields no usable token.
-- A family is every token descended from one login; reuse of a spent one revokes it whole.
create table refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  family_id uuid not null,
  user_id uuid not null references users (id) on delete cascade,
  token_hash bytea not null unique,
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);

create index refresh_tokens_family on refresh_tokens (family_id);
create index refresh_tokens_live_by_user on refresh_tokens (user_id) where revoked_at is null;
