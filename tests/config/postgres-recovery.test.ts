// Recovery onto an empty cluster: a backup taken by the rendered backup job on one server is
// restored by scripts/postgres-restore.sh into a newly initialised server whose roles come from
// the platform's own init SQL, and the two are compared.
import { randomBytes } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderPostgresBackupScript } from "../../components/database/backups/backup-script";
import { BACKUP_ROLE, MONITOR_ROLE } from "../../components/database/postgres/postgres-databases";
import { renderPostgresHba } from "../../components/database/postgres/postgres-hba";
import { renderPostgresInitSql } from "../../components/database/postgres/postgres-init-sql";
import { PGPASS_MODE, renderPgpass } from "../../components/database/postgres/postgres-pgpass";
import { scramSha256Verifier } from "../../components/database/postgres/postgres-scram";
import { POSTGRES_BIN, PostgresServer, startPostgres } from "../../scripts/local-servers/postgres-server";
import { chownTo, ownedTempDir, runAs, serviceUser } from "../../scripts/local-servers/server-process";

const RESTORE_SCRIPT = resolve(__dirname, "../../scripts/postgres-restore.sh");
const password = (): string => randomBytes(30).toString("base64url").replace(/[-_]/g, "x");
const salt = (): string => randomBytes(16).toString("base64");

interface Login {
  user: string;
  password: string;
}

/** The platform's passwords (from the stack state): the same for the old and the new cluster. */
const platform = {
  users: { user: "users", password: password() },
  config: { user: "config", password: password() },
  monitor: { user: MONITOR_ROLE, password: password() },
  backup: { user: BACKUP_ROLE, password: password() },
};
const SERVICE_DATABASES = ["config", "users"];

/** The platform's init SQL; each render draws new salts, as a new deployment's verifiers may. */
const initSql = (): string =>
  renderPostgresInitSql({
    services: [
      { role: "users", database: "users", scramVerifier: scramSha256Verifier(platform.users.password, salt()) },
      { role: "config", database: "config", scramVerifier: scramSha256Verifier(platform.config.password, salt()) },
    ],
    monitorVerifier: scramSha256Verifier(platform.monitor.password, salt()),
    backupVerifier: scramSha256Verifier(platform.backup.password, salt()),
  });

async function login(server: PostgresServer, who: Login, database: string, sql = "SELECT current_user AS who"): Promise<unknown[]> {
  const client = new Client({ host: server.host, port: server.port, user: who.user, password: who.password, database, ssl: { ca: server.caPem } });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const lines = (text: string): string[] => text.split("\n").filter(Boolean);

/** Everything a restore must bring back, read as the superuser. */
function snapshot(server: PostgresServer): Record<string, unknown> {
  const perDatabase = Object.fromEntries(
    SERVICE_DATABASES.map((db) => {
      const tables = lines(server.psql("SELECT quote_ident(schemaname) || '.' || quote_ident(relname) FROM pg_stat_user_tables ORDER BY 1", db));
      return [
        db,
        {
          // count and md5 over every row, per table: equal means equal contents.
          tables: Object.fromEntries(tables.map((t) => [t, server.psql(`SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '') FROM ${t} x`, db)])),
          sequences: lines(server.psql("SELECT schemaname || '.' || sequencename || '=' || coalesce(last_value::text, 'unset') FROM pg_sequences ORDER BY 1", db)),
          grants: lines(server.psql("SELECT c.relname || ' ' || c.relacl::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' AND c.relacl IS NOT NULL ORDER BY 1", db)),
          owners: lines(server.psql("SELECT c.relname || ' ' || pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' ORDER BY 1", db)),
        },
      ];
    }),
  );
  return {
    databases: perDatabase,
    databaseAcls: lines(server.psql(`SELECT datname || ' ' || pg_get_userbyid(datdba) || ' ' || coalesce(datacl::text, '') FROM pg_database WHERE datname IN (${SERVICE_DATABASES.map((d) => `'${d}'`).join(", ")}) ORDER BY 1`)),
    roles: lines(server.psql("SELECT rolname || ' ' || rolsuper || rolinherit || rolcreaterole || rolcreatedb || rolcanlogin || rolreplication || rolbypassrls FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1")),
    memberships: lines(server.psql("SELECT r.rolname || ' > ' || m.rolname FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member ORDER BY 1")),
  };
}

describe("restore onto an empty cluster initialised by the platform's init SQL", () => {
  const user = serviceUser("postgres");
  let old: PostgresServer;
  let fresh: PostgresServer;
  let work: { path: string; remove: () => void };
  let backup: string;
  let before: Record<string, unknown>;
  const driftedPassword = password();

  // The postgres user runs a copy it owns, beside the backup.
  const restore = (server: PostgresServer, args: string[]) =>
    runAs(user, "sh", [join(work.path, basename(RESTORE_SCRIPT)), ...args], { env: { PATH: `${POSTGRES_BIN}:${process.env.PATH}`, PGHOST: server.socketDir, PGPORT: String(server.port), PGUSER: "postgres" } });

  beforeAll(async () => {
    old = await startPostgres({ initSql: [initSql()], hba: renderPostgresHba() });
    await login(old, platform.users, "users", `
      CREATE TABLE accounts (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, profile jsonb);
      INSERT INTO accounts (email, profile) SELECT 'user' || i || '@example.test', jsonb_build_object('n', i) FROM generate_series(1, 3000) i;
      CREATE SEQUENCE invoice_numbers START 1000;
      SELECT setval('invoice_numbers', 4242);
      CREATE SCHEMA audit;
      CREATE TABLE audit.events (at timestamptz PRIMARY KEY, what text);
      INSERT INTO audit.events SELECT timestamptz '2026-01-01' + i * interval '1 minute', 'e' || i FROM generate_series(1, 500) i;`);
    await login(old, platform.config, "config", `
      CREATE TABLE entries (name text PRIMARY KEY, version int NOT NULL, document jsonb NOT NULL);
      INSERT INTO entries SELECT 'n' || i, i, jsonb_build_object('i', i) FROM generate_series(1, 800) i;`);
    // What an operator added beside the platform: a read-only group, a member of it, grants to it.
    old.psql("CREATE ROLE reporting NOLOGIN; CREATE ROLE analyst LOGIN; GRANT reporting TO analyst; GRANT CONNECT ON DATABASE users TO reporting");
    await login(old, platform.users, "users", "GRANT USAGE ON SCHEMA audit TO reporting; GRANT SELECT ON accounts, audit.events TO reporting");
    // A password that differs from the platform's: a restore must not bring it back.
    old.psql(`ALTER ROLE users PASSWORD '${driftedPassword}'`);

    work = ownedTempDir("pg-recovery", user);
    copyFileSync(RESTORE_SCRIPT, join(work.path, basename(RESTORE_SCRIPT)));
    chownTo(join(work.path, basename(RESTORE_SCRIPT)), user);
    const scriptPath = join(work.path, "postgres-backup.sh");
    const pgpass = join(work.path, "pgpass");
    writeFileSync(scriptPath, renderPostgresBackupScript({ backupDir: join(work.path, "backups"), retention: 1 }));
    writeFileSync(pgpass, renderPgpass([platform.backup]), { mode: PGPASS_MODE });
    chownTo(pgpass, user);
    const ran = runAs(user, "sh", [scriptPath], {
      env: { PATH: `${POSTGRES_BIN}:${process.env.PATH}`, PGHOST: old.host, PGPORT: String(old.port), PGUSER: BACKUP_ROLE, PGDATABASE: "postgres", PGPASSFILE: pgpass, ...old.tlsEnv, HOME: work.path },
    });
    expect(ran.status, ran.stderr).toBe(0);
    const [stamp] = readdirSync(join(work.path, "backups")).filter((name) => /^\d{8}T\d{6}Z/.test(name));
    backup = join(work.path, "backups", stamp);
    before = snapshot(old);
    await old.destroy();

    fresh = await startPostgres({ initSql: [initSql()], hba: renderPostgresHba() });
  });

  afterAll(async () => {
    await old?.destroy();
    await fresh?.destroy();
    work?.remove();
  });

  it("the backup holds roles and memberships, and no password hash", () => {
    expect(readdirSync(backup).sort()).toEqual(["config.dump", "databases.txt", "globals.sql", "users.dump"]);
    const globals = readFileSync(join(backup, "globals.sql"), "utf8");
    expect(globals).toMatch(/^CREATE ROLE analyst;$/m);
    expect(globals).toMatch(/^GRANT reporting TO analyst\b/m);
    expect(globals).not.toMatch(/SCRAM-SHA-256|PASSWORD/);
  });

  it("restores tables, sequences, owners, grants, roles and memberships as they were", () => {
    expect(snapshot(fresh)).not.toEqual(before);
    const dryRun = restore(fresh, [backup]);
    expect(dryRun.status, dryRun.stderr).toBe(2);
    expect(dryRun.stderr).toContain("would create the roles");

    const restored = restore(fresh, ["--yes", backup]);
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.stderr).toContain("roles and memberships applied");
    expect(snapshot(fresh)).toEqual(before);
  });

  it("every service role logs in with the platform's password, not one from the old cluster", async () => {
    for (const [who, database] of [
      [platform.users, "users"],
      [platform.config, "config"],
      [platform.monitor, "postgres"],
      [platform.backup, "postgres"],
    ] as const) {
      expect(await login(fresh, who, database)).toEqual([{ who: who.user }]);
    }
    await expect(login(fresh, { user: "users", password: driftedPassword }, "users")).rejects.toThrow(/password authentication failed/);
    expect(await login(fresh, platform.users, "users", "SELECT nextval('accounts_id_seq')::int AS next, nextval('invoice_numbers')::int AS invoice")).toEqual([{ next: 3001, invoice: 4243 }]);
    // Grants hold as before: a service reaches only its own database, the backup role reads all.
    await expect(login(fresh, platform.users, "config")).rejects.toThrow(/permission denied for database "config"/);
    expect(await login(fresh, platform.backup, "config", "SELECT count(*)::int AS n FROM entries")).toEqual([{ n: 800 }]);
  });

  it("a role only the backup knew comes back without a password, so it cannot log in until an operator sets one", async () => {
    await expect(login(fresh, { user: "analyst", password: "anything" }, "users")).rejects.toThrow(/password authentication failed/);
    expect(fresh.psql("SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'analyst'")).toBe("t");
  });
});
