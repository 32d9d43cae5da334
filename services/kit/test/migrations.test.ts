import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../../scripts/local-servers/postgres-server";
import { runMigrations } from "../src/migrations";
import { createPgPool } from "../src/postgres";

let server: PostgresServer;
const pools: Pool[] = [];

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await server?.destroy();
});

let databases = 0;
function freshDatabase(): string {
  databases += 1;
  const name = `kit_migrations_${databases}`;
  server.psql(`create database ${name}`);
  return name;
}

function pool(database: string): Pool {
  const created = createPgPool({ url: `postgres://postgres@127.0.0.1:${server.port}/${database}`, password: server.superuserPassword, ca: server.caPem, applicationName: "kit-test", max: 2 });
  pools.push(created);
  return created;
}

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "kit-migrations-"));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

describe("runMigrations", () => {
  it("applies pending migrations once even when six runners start together", async () => {
    const database = freshDatabase();
    const directory = migrationsDir({
      // Not idempotent on purpose: a second application would fail or add a second row.
      "001_create_things.sql": "select pg_sleep(0.3); create table things (id serial primary key, name text not null);",
      "002_seed_things.sql": "insert into things (name) values ('first');",
    });
    const results = await Promise.all(Array.from({ length: 6 }, () => runMigrations({ pool: pool(database), directory, lockName: "things" })));

    const appliers = results.filter((r) => r.applied.length > 0);
    expect(appliers).toHaveLength(1);
    expect(appliers[0]!.applied).toEqual(["001_create_things.sql", "002_seed_things.sql"]);
    expect(results.filter((r) => r.applied.length === 0).every((r) => r.alreadyApplied === 2)).toBe(true);
    expect(server.psql("select count(*) from things", database)).toBe("1");
    expect(server.psql("select string_agg(name, ',' order by version) from schema_migrations", database)).toBe("001_create_things.sql,002_seed_things.sql");
  });

  it("applies only what is new on a later run", async () => {
    const database = freshDatabase();
    const first = { "001_a.sql": "create table a (id int);" };
    await runMigrations({ pool: pool(database), directory: migrationsDir(first), lockName: "a" });
    const again = await runMigrations({ pool: pool(database), directory: migrationsDir({ ...first, "002_b.sql": "create table b (id int);" }), lockName: "a" });
    expect(again).toEqual({ applied: ["002_b.sql"], alreadyApplied: 1 });
  });

  it("rolls a failing migration back and names it", async () => {
    const database = freshDatabase();
    const directory = migrationsDir({ "001_ok.sql": "create table ok (id int);", "002_broken.sql": "create table half (id int); select * from missing_table;" });
    await expect(runMigrations({ pool: pool(database), directory, lockName: "x" })).rejects.toThrow(/migration 002_broken.sql failed: relation "missing_table" does not exist/);
    expect(server.psql("select count(*) from pg_tables where tablename = 'half'", database)).toBe("0");
    expect(server.psql("select count(*) from schema_migrations", database)).toBe("1");
  });

  it("refuses a migration edited after it was applied", async () => {
    const database = freshDatabase();
    await runMigrations({ pool: pool(database), directory: migrationsDir({ "001_a.sql": "create table a (id int);" }), lockName: "a" });
    await expect(
      runMigrations({ pool: pool(database), directory: migrationsDir({ "001_a.sql": "create table a (id bigint);" }), lockName: "a" }),
    ).rejects.toThrow("migration 001_a.sql: changed after it was applied");
  });

  it("sets the statement and idle-in-transaction timeouts on pool connections", async () => {
    const database = freshDatabase();
    const timed = createPgPool({ url: `postgres://postgres@127.0.0.1:${server.port}/${database}`, password: server.superuserPassword, ca: server.caPem, applicationName: "kit-test", statementTimeoutMs: 200, idleInTransactionTimeoutMs: 300 });
    pools.push(timed);
    await expect(timed.query("select pg_sleep(2)")).rejects.toThrow(/canceling statement due to statement timeout/);
    const settings = await timed.query<{ s: string; i: string }>("select current_setting('statement_timeout') as s, current_setting('idle_in_transaction_session_timeout') as i");
    expect(settings.rows[0]).toEqual({ s: "200ms", i: "300ms" });
  });
});
