import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../../scripts/local-servers/postgres-server";

let pg: PostgresServer;
let secrets: string;

beforeAll(async () => {
  pg = await startPostgres();
  pg.psql("create role users_app login password 'migrate-job-pw'");
  pg.psql("create database users_migrate owner users_app");
  secrets = mkdtempSync(join(tmpdir(), "users-migrate-"));
  writeFileSync(join(secrets, "db-password"), "migrate-job-pw\n", { mode: 0o600 });
});
afterAll(async () => {
  await pg?.destroy();
  rmSync(secrets, { recursive: true, force: true });
});

function runJob(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(__dirname, "..", "src", "migrate.ts")], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("exit", (code) => resolve({ code, output }));
  });
}

describe("migration job (src/migrate.ts)", () => {
  it("applies the migrations once when two jobs start together, and exits 0 both times", async () => {
    const env = { DATABASE_URL: `postgres://users_app@127.0.0.1:${pg.port}/users_migrate`, DATABASE_PASSWORD_FILE: join(secrets, "db-password"), DATABASE_CA_FILE: pg.caPath };
    const [first, second] = await Promise.all([runJob(env), runJob(env)]);
    expect(first.code, first.output).toBe(0);
    expect(second.code, second.output).toBe(0);
    const summaries = [first.output, second.output].map((output) => output.match(/migrations: (\d+) applied, (\d+) already applied/)!.slice(1).map(Number));
    expect(summaries.map(([applied]) => applied).sort()).toEqual([0, 5]);
    expect(pg.psql("select string_agg(name, ',' order by version) from schema_migrations", "users_migrate")).toBe("001_users.sql,002_refresh_tokens.sql,003_outbox.sql,004_outbox_trace_context.sql,005_account_change_notify.sql");
    expect(pg.psql("select count(*) from pg_tables where tablename in ('users', 'refresh_tokens', 'outbox')", "users_migrate")).toBe("3");
  });

  it("exits 1 naming the missing variables", async () => {
    const result = await runJob({});
    expect(result.code).toBe(1);
    expect(result.output).toContain("DATABASE_URL: is required");
    expect(result.output).toContain("DATABASE_PASSWORD_FILE: is required");
  });
});
