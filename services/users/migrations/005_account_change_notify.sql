-- Every replica holds accounts in memory (src/domain/account-cache.ts) and LISTENs on
-- users_changed. The NOTIFY is sent by a trigger in the writing transaction, so no write path
-- can skip it (another replica, a script, an operator's psql); PostgreSQL delivers it at commit
-- and drops it on rollback. The payload is the account's id; '*' (a truncate) means every account.
create function notify_users_changed() returns trigger language plpgsql as $$
begin
  if tg_op = 'TRUNCATE' then
    perform pg_notify('users_changed', '*');
  elsif tg_op = 'DELETE' then
    perform pg_notify('users_changed', old.id::text);
  else
    perform pg_notify('users_changed', new.id::text);
    -- An id changed in place leaves the old id's copy behind unless it is named too.
    if new.id <> old.id then
      perform pg_notify('users_changed', old.id::text);
    end if;
  end if;
  return null;
end
$$;

-- Any column: whatever /me returns or a guard checks today, and whatever it will tomorrow.
create trigger users_changed_on_update after update on users
  for each row when (old.* is distinct from new.*) execute function notify_users_changed();
create trigger users_changed_on_delete after delete on users
  for each row execute function notify_users_changed();
create trigger users_changed_on_truncate after truncate on users
  for each statement execute function notify_users_changed();
