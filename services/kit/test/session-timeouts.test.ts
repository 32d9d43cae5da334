/*
 * A pool's statement and idle-in-transaction timeouts as a service runs them: asked for as
 * start-up parameters, which PostgreSQL applies and PgBouncer drops (ignore_startup_parameters).
 * Through PgBouncer only the role's defaults hold, so a value asked for there must be refused
 * at start-up rather than seem to be in force.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServiceBehindPgBouncer, type ServiceBehindPgBouncer } from "../../../scripts/local-servers/service-behind-pgbouncer";
import { EnvError } from "../src/env";
import { createPgPool, effectiveSessionTimeouts, sessionTimeouts, type Pool } from "../src/postgres";

const DATABASE = "kit_timeouts";
const NAMES = { statementTimeoutMs: "DATABASE_STATEMENT_TIMEOUT_MS", idleInTransactionTimeoutMs: "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS" };
let servers: ServiceBehindPgBouncer;
const pools: Pool[] = [];

function pool(port: number, ca: string, asked: { statementTimeoutMs?: number; idleInTransactionTimeoutMs?: number } = {}): Pool {
  const created = createPgPool({ url: `postgres://svc@localhost:${port}/${DATABASE}`, password: servers.password, ca, applicationName: "kit-timeouts", max: 1, ...asked });
  pools.push(created);
  return created;
}

beforeAll(async () => {
  servers = await startServiceBehindPgBouncer({ role: "svc", database: DATABASE, poolSize: 2, maxClients: 20 });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(pools.map((p) => p.end()));
  await servers?.destroy();
});

describe("session timeouts", () => {
  it("are the role's defaults when none is asked for, on either path", async () => {
    const defaults = { statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10_000 };
    expect(await sessionTimeouts(pool(servers.postgres.port, servers.postgres.caPem))).toEqual(defaults);
    expect(await effectiveSessionTimeouts(pool(servers.pgbouncer.port, servers.pgbouncer.caPem), {}, NAMES)).toEqual(defaults);
  });

  it("take effect when asked for on a direct connection", async () => {
    const direct = pool(servers.postgres.port, servers.postgres.caPem, { statementTimeoutMs: 1500, idleInTransactionTimeoutMs: 4000 });
    expect(await effectiveSessionTimeouts(direct, { statementTimeoutMs: 1500, idleInTransactionTimeoutMs: 4000 }, NAMES)).toEqual({ statementTimeoutMs: 1500, idleInTransactionTimeoutMs: 4000 });
    await expect(direct.query("SELECT pg_sleep(3)")).rejects.toThrow("canceling statement due to statement timeout");
  });

  it("are refused, naming the variable, when asked for through PgBouncer, which drops them", async () => {
    const pooled = pool(servers.pgbouncer.port, servers.pgbouncer.caPem, { statementTimeoutMs: 1500 });
    const refusal = await effectiveSessionTimeouts(pooled, { statementTimeoutMs: 1500 }, NAMES).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(EnvError);
    expect((refusal as EnvError).problems).toEqual([
      "DATABASE_STATEMENT_TIMEOUT_MS: 1500 ms was asked for, but the server's sessions run with 5000 ms: a connection through PgBouncer drops start-up parameters. Leave it unset there and set the role's default instead (ALTER ROLE ... SET)",
    ]);
  });
});
