import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderPostgresBackupScript } from "../../components/database/backups/backup-script";
import { BACKUP_ROLE, MONITOR_ROLE } from "../../components/database/postgres/postgres-databases";
import { BACKUP_LAST_SUCCESS_METRIC, renderPostgresExporterQueries } from "../../components/database/postgres/postgres-exporter-queries";
import { renderPostgresHba } from "../../components/database/postgres/postgres-hba";
import { renderPostgresInitSql } from "../../components/database/postgres/postgres-init-sql";
import { PGPASS_MODE, renderPgpass } from "../../components/database/postgres/postgres-pgpass";
import { scramSha256Verifier } from "../../components/database/postgres/postgres-scram";
import { POSTGRES_MAJOR } from "../../components/config/server-versions";
import { POSTGRES_BIN, PostgresServer, startPostgres } from "../../scripts/local-servers/postgres-server";
import { chownTo, copyForServer, ownedTempDir, runAs, serviceUser } from "../../scripts/local-servers/server-process";

const RESTORE_SCRIPT = resolve(__dirname, "../../scripts/postgres-restore.sh");
const password = (): string => randomBytes(30).toString("base64url").replace(/[-_]/g, "x");
const salt = (): string => randomBytes(16).toString("base64");

describe("renderPostgresBackupScript", () => {
  it.each([
    ["backup_dir='/backups'"],
    ["retention=7"],
    ["set -eu"],
  ])("contains %s", (line) => {
    expect(renderPostgresBackupScript({ backupDir: "/backups", retention: 7 }).split("\n")).toContain(line);
  });

  it("names the field and the reason for bad input", () => {
    expect(() => renderPostgresBackupScript({ backupDir: "/backups", retention: 0 })).toThrow("retention: must be an integer from 1 to 1000 (got 0)");
    expect(() => renderPostgresBackupScript({ backupDir: "relative", retention: 3 })).toThrow(/backupDir: must be an absolute path/);
    expect(() => renderPostgresBackupScript({ backupDir: "/x'; rm -rf /; '", retention: 3 })).toThrow(/backupDir/);
  });

  it("property: for every retention and directory the script is valid sh and carries that retention", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.stringMatching(/^\/[a-z][a-z0-9_/-]{0,30}$/), (retention, dir) => {
        const script = renderPostgresBackupScript({ backupDir: dir, retention });
        expect(spawnSync("sh", ["-n"], { input: script }).status).toBe(0);
        expect(script).toContain(`retention=${retention}\n`);
        expect(script).toContain(`tail -n +$((retention + 1))`);
      }),
      { numRuns: 40 },
    );
  });
});

describe(`backup, drop, restore on PostgreSQL ${POSTGRES_MAJOR} with the real scripts`, () => {
  const user = serviceUser("postgres");
  const logins = {
    users: { user: "users", password: password() },
    media: { user: "media", password: password() },
    backup: { user: BACKUP_ROLE, password: password() },
    monitor: { user: MONITOR_ROLE, password: password() },
  };
  let server: PostgresServer;
  let work: { path: string; remove: () => void };
  let backupDir: string;
  let scriptPath: string;

  const asService = async (login: { user: string; password: string }, database: string, sql: string): Promise<unknown[]> => {
    const client = new Client({ host: server.host, port: server.port, user: login.user, password: login.password, database, ssl: { ca: server.caPem } });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };

  /** md5 over every row of every user table, per table: equal checksums mean equal contents. */
  const checksums = (database: string): Record<string, string> => {
    const tables = server.psql("SELECT schemaname || '.' || relname FROM pg_stat_user_tables ORDER BY 1", database).split("\n").filter(Boolean);
    return Object.fromEntries(tables.map((t) => [t, server.psql(`SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '') FROM ${t} x`, database)]));
  };

  const runBackup = (pgpass: string) => {
    const pgpassPath = join(work.path, "pgpass");
    writeFileSync(pgpassPath, pgpass, { mode: PGPASS_MODE });
    chownTo(pgpassPath, user);
    return runAs(user, "sh", [scriptPath], {
      env: { PATH: `${POSTGRES_BIN}:${process.env.PATH}`, PGHOST: server.host, PGPORT: String(server.port), PGUSER: BACKUP_ROLE, PGDATABASE: "postgres", PGPASSFILE: pgpassPath, ...server.tlsEnv, HOME: work.path },
    });
  };

  const runRestore = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runAs(user, "sh", [copyForServer(RESTORE_SCRIPT, work.path, user), ...args], {
      env: { PATH: `${POSTGRES_BIN}:${process.env.PATH}`, PGHOST: server.socketDir, PGPORT: String(server.port), PGUSER: "postgres", HOME: work.path, ...env },
    });

  const completeBackups = () => readdirSync(backupDir).filter((name) => /^\d{8}T\d{6}Z/.test(name)).sort();

  beforeAll(async () => {
    const sql = renderPostgresInitSql({
      services: [
        { role: "users", database: "users", scramVerifier: scramSha256Verifier(logins.users.password, salt()) },
        { role: "media", database: "media", scramVerifier: scramSha256Verifier(logins.media.password, salt()) },
      ],
      monitorVerifier: scramSha256Verifier(logins.monitor.password, salt()),
      backupVerifier: scramSha256Verifier(logins.backup.password, salt()),
    });
    server = await startPostgres({ initSql: [sql], hba: renderPostgresHba() });
    work = ownedTempDir("pg-backup", user);
    backupDir = join(work.path, "backups");
    scriptPath = join(work.path, "postgres-backup.sh");
    writeFileSync(scriptPath, renderPostgresBackupScript({ backupDir, retention: 2 }));

    await asService(logins.users, "users", `
      CREATE TABLE accounts (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, profile jsonb, created timestamptz NOT NULL DEFAULT now());
      INSERT INTO accounts (email, profile) SELECT 'user' || i || '@example.test', jsonb_build_object('n', i, 'tags', ARRAY['a', 'b']) FROM generate_series(1, 5000) i;
      CREATE TABLE sessions (token bytea PRIMARY KEY, account bigint REFERENCES accounts(id));
      INSERT INTO sessions SELECT decode(md5(i::text), 'hex'), i FROM generate_series(1, 2000) i;`);
    await asService(logins.media, "media", `
      CREATE SCHEMA catalog;
      CREATE TABLE catalog.items (id int PRIMARY KEY, title text, size numeric(12, 2));
      INSERT INTO catalog.items SELECT i, repeat('t', i % 50), i * 1.5 FROM generate_series(1, 3000) i;`);
  });
  afterAll(async () => {
    await server?.destroy();
    work?.remove();
  });

  it("restores every table to the same checksum after the databases are dropped or damaged", async () => {
    const before = { users: checksums("users"), media: checksums("media") };
    expect(Object.keys(before.users)).toEqual(["public.accounts", "public.sessions"]);
    const started = Date.now() / 1000;

    const backup = runBackup(renderPgpass([logins.backup]));
    expect(backup.stderr).toContain("recorded success");
    expect(backup.status).toBe(0);
    const [stamp] = completeBackups();
    expect(readdirSync(join(backupDir, stamp)).sort()).toEqual(["databases.txt", "globals.sql", "media.dump", "users.dump"]);

    // The exporter's custom query, run as the exporter's role, turns the record into the metric.
    const queries = parse(renderPostgresExporterQueries()) as Record<string, { query: string; metrics: Record<string, unknown>[] }>;
    const [[prefix, spec]] = Object.entries(queries);
    expect(`${prefix}_${Object.keys(spec.metrics[0])[0]}`).toBe(BACKUP_LAST_SUCCESS_METRIC);
    const [row] = (await asService(logins.monitor, "postgres", spec.query)) as { last_success_timestamp_seconds: number }[];
    expect(row.last_success_timestamp_seconds).toBeGreaterThanOrEqual(Math.floor(started));
    expect(row.last_success_timestamp_seconds).toBeLessThanOrEqual(Date.now() / 1000 + 1);

    server.psql("DROP DATABASE users WITH (FORCE)");
    await asService(logins.media, "media", "DELETE FROM catalog.items WHERE id % 2 = 0");
    expect(checksums("media")).not.toEqual(before.media);

    const dryRun = runRestore([join(backupDir, stamp)]);
    expect(dryRun.status).toBe(2);
    expect(dryRun.stderr).toContain("run again with --yes");
    expect(server.psql("SELECT count(*) FROM pg_database WHERE datname = 'users'")).toBe("0");

    const restore = runRestore(["--yes", join(backupDir, stamp)]);
    expect(restore.stderr).toContain("users restored");
    expect(restore.status).toBe(0);
    expect({ users: checksums("users"), media: checksums("media") }).toEqual(before);

    // Owner and grants come back with the database: each role still reaches only its own.
    expect(await asService(logins.users, "users", "SELECT count(*)::int AS n FROM accounts")).toEqual([{ n: 5000 }]);
    await expect(asService(logins.users, "media", "SELECT 1")).rejects.toThrow(/permission denied for database "media"/);
    expect(await asService(logins.users, "users", "SELECT nextval('accounts_id_seq')::int AS next")).toEqual([{ next: 5001 }]);
  });

  it("keeps only the newest `retention` backups", () => {
    for (let i = 0; i < 2; i += 1) {
      const result = runBackup(renderPgpass([logins.backup]));
      expect(result.status, result.stderr).toBe(0);
    }
    const kept = completeBackups();
    expect(kept).toHaveLength(2);
    expect(readdirSync(backupDir).filter((name) => name.startsWith(".partial"))).toEqual([]);
  });

  it("fails loudly with a wrong password: no new backup, no half backup, the last success stays put", () => {
    const kept = completeBackups();
    const recorded = server.psql("SELECT last_success FROM fundament.backup_status");
    const result = runBackup(renderPgpass([{ user: BACKUP_ROLE, password: "wrong-password" }]));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/FAILED: cannot list databases/);
    expect(completeBackups()).toEqual(kept);
    expect(readdirSync(backupDir).filter((name) => name.startsWith(".partial"))).toEqual([]);
    expect(server.psql("SELECT last_success FROM fundament.backup_status")).toBe(recorded);
  });

  it("restore refuses a missing dump before dropping anything", () => {
    const [stamp] = completeBackups();
    const result = runRestore(["--yes", join(backupDir, stamp), "nonexistent"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("no dump for nonexistent");
    expect(existsSync(join(backupDir, stamp, "users.dump"))).toBe(true);
    expect(server.psql("SELECT count(*) FROM pg_database WHERE datname IN ('users', 'media')")).toBe("2");
  });

  it("restore over the network verifies the server: a weaker sslmode or a missing CA is refused before anything is touched", () => {
    const [stamp] = completeBackups();
    const weak = runRestore(["--yes", join(backupDir, stamp)], { PGSSLMODE: "require" });
    expect(weak.status).toBe(1);
    expect(weak.stderr).toContain("PGSSLMODE=require would not verify the server");
    const noCa = runRestore(["--yes", join(backupDir, stamp)], { PGHOST: server.host, PGSSLROOTCERT: "" });
    expect(noCa.status).toBe(1);
    expect(noCa.stderr).toContain(`PGSSLROOTCERT must name the platform CA file (readable) to verify ${server.host}`);
    // With the CA the checks pass and the dry run lists what it would restore.
    const dryRun = runRestore([join(backupDir, stamp)], { PGHOST: server.host, PGSSLROOTCERT: server.caPath });
    expect(dryRun.status).toBe(2);
    expect(server.psql("SELECT count(*) FROM pg_database WHERE datname IN ('users', 'media')")).toBe("2");
  });
});
