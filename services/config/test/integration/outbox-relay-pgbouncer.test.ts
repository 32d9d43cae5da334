/*
 * The config service's outbox relay as deployed: through PgBouncer's transaction pooling, with
 * other clients sharing PgBouncer's server connections. Only a transaction keeps one server
 * connection there, so a session-level advisory lock (or SET) taken by the relay would stay
 * behind on a server connection that other clients then use, and the next pass would wait on
 * its own forgotten lock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, createPgPool, runMigrations } from "@fundament/kit";
import type { Pool } from "pg";
import { startServiceBehindPgBouncer, type ServiceBehindPgBouncer } from "../../../../scripts/local-servers/service-behind-pgbouncer";
import { MIGRATIONS_DIR } from "../../src/migrations-dir";
import { OutboxRelay } from "../../src/outbox-relay";
import type { ChangeEvent } from "../../src/version-store";

const DATABASE = "config_relay";
const EVENTS = 40;
let servers: ServiceBehindPgBouncer;
let relayPool: Pool;
let loadPool: Pool;

beforeAll(async () => {
  // Fewer server connections than clients: they are shared, as in every deployment.
  servers = await startServiceBehindPgBouncer({ role: "config", database: DATABASE, poolSize: 3, maxClients: 100 });
  const { postgres, pgbouncer, password } = servers;
  const direct = createPgPool({ url: `postgres://config@localhost:${postgres.port}/${DATABASE}`, password, ca: postgres.caPem, applicationName: "config-migrate", max: 1 });
  await runMigrations({ pool: direct, directory: MIGRATIONS_DIR, lockName: "config" });
  await direct.end();
  const url = `postgres://config@localhost:${pgbouncer.port}/${DATABASE}`;
  relayPool = createPgPool({ url, password, ca: pgbouncer.caPem, applicationName: "config-relay", max: 2 });
  loadPool = createPgPool({ url, password, ca: pgbouncer.caPem, applicationName: "config-load", max: 6 });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([relayPool?.end(), loadPool?.end()]);
  await servers?.destroy();
});

describe("outbox relay through PgBouncer (transaction pooling)", () => {
  it("publishes every event in commit order while other clients share the server connections, and leaves no lock behind", async () => {
    for (let version = 1; version <= EVENTS; version++) {
      servers.postgres.psql(`INSERT INTO config_outbox (namespace, environment, version) VALUES ('billing', 'prod', ${version})`, DATABASE);
    }
    let loading = true;
    const load = Array.from({ length: 6 }, async () => {
      while (loading) await loadPool.query("select pg_sleep(0.002)");
    });
    const published: ChangeEvent[] = [];
    const relay = new OutboxRelay({
      pool: relayPool,
      publisher: { publish: async (event) => void published.push(event) },
      logger: createLogger({ service: "config", level: "silent" }),
      sweepIntervalMs: 200,
      batchSize: 2,
    });
    relay.start();
    try {
      await expect.poll(() => published.length, { timeout: 30_000, interval: 100 }).toBe(EVENTS);
    } finally {
      await relay.stop();
      loading = false;
      await Promise.all(load);
    }
    expect(published.map((event) => event.version)).toEqual(Array.from({ length: EVENTS }, (_, i) => i + 1));
    expect(servers.postgres.psql("SELECT count(*) FROM config_outbox", DATABASE)).toBe("0");
    // A lock held by a server connection PgBouncer keeps open would block the next pass, any replica's.
    expect(servers.postgres.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).toBe("0");
  }, 150_000);
});
