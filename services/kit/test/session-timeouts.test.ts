/*
 * A pool's statement and idle-in-transaction timeouts as a service runs them: asked for as
 * start-up parameters, which PostgreSQL applies and PgBouncer drops (ignore_startup_parameters).
 * Through PgBouncer only the role's defaults hold, so a value asked for there must be refused
 * at start-up rather than seem to be in force.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderPgBouncerIni, renderPgBouncerUserlist } from "../../../components/database/postgres/pgbouncer-ini";
import { PGBOUNCER_TLS } from "../../../components/database/postgres/pgbouncer";
import { roleDefaults } from "../../../components/database/postgres/postgres-init-sql";
import { scramSha256Verifier } from "../../../components/database/postgres/postgres-scram";
import { startPgBouncer, type PgBouncerServer } from "../../../scripts/local-servers/pgbouncer-server";
import { startPostgres, type PostgresServer } from "../../../scripts/local-servers/postgres-server";
import { EnvError } from "../src/env";
import { createPgPool, effectiveSessionTimeouts, sessionTimeouts, type Pool } from "../src/postgres";

const DATABASE = "kit_timeouts";
const NAMES = { statementTimeoutMs: "DATABASE_STATEMENT_TIMEOUT_MS", idleInTransactionTimeoutMs: "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS" };
let postgres: PostgresServer;
let pgbouncer: PgBouncerServer;
let password: string;
const pools: Pool[] = [];

function pool(port: number, ca: string, asked: { statementTimeoutMs?: number; idleInTransactionTimeoutMs?: number } = {}): Pool {
  const created = createPgPool({ url: `postgres://svc@localhost:${port}/${DATABASE}`, password, ca, applicationName: "kit-timeouts", max: 1, ...asked });
  pools.push(created);
  return created;
}

beforeAll(async () => {
  password = randomBytes(18).toString("hex");
  // PgBouncer logs in to PostgreSQL with the client's SCRAM keys: both must hold the same verifier.
  const verifier = scramSha256Verifier(password, randomBytes(16).toString("base64"));
  postgres = await startPostgres();
  postgres.psql(`CREATE ROLE svc LOGIN PASSWORD '${verifier}'`);
  postgres.psql(`CREATE DATABASE ${DATABASE} OWNER svc`);
  for (const statement of roleDefaults("svc")) postgres.psql(statement);
  pgbouncer = await startPgBouncer({
    ini: renderPgBouncerIni({
      postgresHost: "localhost",
      postgresPort: postgres.port,
      databases: [{ name: DATABASE }],
      defaultPoolSize: 2,
      maxClientConnections: 20,
      authFile: "/unused",
      tls: PGBOUNCER_TLS,
    }),
    userlist: renderPgBouncerUserlist([{ user: "svc", scramVerifier: verifier }]),
  });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(pools.map((p) => p.end()));
  await pgbouncer?.destroy();
  await postgres?.destroy();
});

describe("session timeouts", () => {
  it("are the role's defaults when none is asked for, on either path", async () => {
    const defaults = { statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10_000 };
    expect(await sessionTimeouts(pool(postgres.port, postgres.caPem))).toEqual(defaults);
    expect(await effectiveSessionTimeouts(pool(pgbouncer.port, pgbouncer.caPem), {}, NAMES)).toEqual(defaults);
  });

  it("take effect when asked for on a direct connection", async () => {
    const direct = pool(postgres.port, postgres.caPem, { statementTimeoutMs: 1500, idleInTransactionTimeoutMs: 4000 });
    expect(await effectiveSessionTimeouts(direct, { statementTimeoutMs: 1500, idleInTransactionTimeoutMs: 4000 }, NAMES)).toEqual({ statementTimeoutMs: 1500, idleInTransactionTimeoutMs: 4000 });
    await expect(direct.query("SELECT pg_sleep(3)")).rejects.toThrow("canceling statement due to statement timeout");
  });

  it("are refused, naming the variable, when asked for through PgBouncer, which drops them", async () => {
    const pooled = pool(pgbouncer.port, pgbouncer.caPem, { statementTimeoutMs: 1500 });
    const refusal = await effectiveSessionTimeouts(pooled, { statementTimeoutMs: 1500 }, NAMES).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(EnvError);
    expect((refusal as EnvError).problems).toEqual([
      "DATABASE_STATEMENT_TIMEOUT_MS: 1500 ms was asked for, but the server's sessions run with 5000 ms: a connection through PgBouncer drops start-up parameters. Leave it unset there and set the role's default instead (ALTER ROLE ... SET)",
    ]);
  });
});
