/*
 * The kit's outbox relay as the users and gpu-jobs services deploy it: its pool goes through
 * PgBouncer's transaction pooling, where a LISTEN sent over the pool lands on a server connection
 * that PgBouncer hands to other clients as soon as the statement ends, so the relay never hears
 * the NOTIFY of a commit and each event waits for the poll. The relay LISTENs on a session of its
 * own, straight to PostgreSQL (DATABASE_LISTEN_URL), and so relays at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServiceBehindPgBouncer, type ServiceBehindPgBouncer } from "../../../../scripts/local-servers/service-behind-pgbouncer";
import { createLogger } from "../../src/logger";
import { createPgPool, type Pool } from "../../src/postgres";
import { listenConnection } from "../../src/postgres-listener";
import { defineMessage, enqueueMessage, OutboxRelay, type OutboxPublisher, type OutboxTable } from "../../src/messaging";

const DATABASE = "kit_relay";
const ROLE = "relay_app";
const OUTBOX: OutboxTable = { name: "relay_outbox", channel: "relay_outbox" };
const jobFinished = defineMessage<{ id: string }>({
  name: "job.finished",
  exchange: "events",
  routingKey: "job.finished",
  schema: { type: "object", required: ["id"], properties: { id: { type: "string" } }, additionalProperties: false },
});
// Longer than the test: only a NOTIFY the relay hears can send a row in time.
const POLL_MS = 3_600_000;
const logger = createLogger({ service: "kit-test", level: "silent" });

let servers: ServiceBehindPgBouncer;
let relayPool: Pool;
let writerPool: Pool;
let directUrl: string;

beforeAll(async () => {
  // Fewer server connections than clients, as in every deployment: they are shared.
  servers = await startServiceBehindPgBouncer({ role: ROLE, database: DATABASE, poolSize: 2, maxClients: 50 });
  const { postgres, pgbouncer, password } = servers;
  directUrl = `postgres://${ROLE}@localhost:${postgres.port}/${DATABASE}`;
  const direct = createPgPool({ url: directUrl, password, ca: postgres.caPem, applicationName: "relay-setup", max: 1 });
  await direct.query(`create table relay_outbox (id bigserial primary key, message_id uuid not null default gen_random_uuid(), type text not null, payload jsonb not null, trace_context jsonb)`);
  await direct.end();
  const bouncerUrl = `postgres://${ROLE}@localhost:${pgbouncer.port}/${DATABASE}`;
  relayPool = createPgPool({ url: bouncerUrl, password, ca: pgbouncer.caPem, applicationName: "relay", max: 2 });
  writerPool = createPgPool({ url: bouncerUrl, password, ca: pgbouncer.caPem, applicationName: "writer", max: 4 });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([relayPool?.end(), writerPool?.end()]);
  await servers?.destroy();
});

function collecting(): OutboxPublisher & { ids: string[] } {
  const ids: string[] = [];
  return {
    ids,
    async publish(_type, payload) {
      ids.push((payload as { id: string }).id);
    },
  };
}

async function commitOne(id: string): Promise<void> {
  const client = await writerPool.connect();
  try {
    await client.query("begin");
    await enqueueMessage(client, OUTBOX, jobFinished, { id });
    await client.query("commit");
  } finally {
    client.release();
  }
}

describe("kit outbox relay behind PgBouncer (transaction pooling)", () => {
  it("relays rows committed through PgBouncer at once, woken by its own LISTEN session (the poll is an hour)", async () => {
    const publisher = collecting();
    const relay = new OutboxRelay({
      pool: relayPool,
      listen: listenConnection(directUrl, servers.password, servers.postgres.caPem, "relay-outbox-listen"),
      publisher,
      table: OUTBOX,
      types: [jobFinished],
      logger,
      pollMs: POLL_MS,
    });
    relay.start();
    try {
      await expect.poll(() => relay.listening, { timeout: 10_000 }).toBe(true);
      // Other clients keep PgBouncer's two server connections busy, as a service's requests do.
      let loading = true;
      const load = Array.from({ length: 3 }, async () => {
        while (loading) await writerPool.query("select pg_sleep(0.002)");
      });
      try {
        for (let index = 0; index < 5; index += 1) {
          const id = `finished-${index}`;
          await commitOne(id);
          await expect.poll(() => publisher.ids.includes(id), { timeout: 5_000, interval: 20 }).toBe(true);
        }
      } finally {
        loading = false;
        await Promise.all(load);
      }
      expect(publisher.ids).toEqual(["finished-0", "finished-1", "finished-2", "finished-3", "finished-4"]);
      // The LISTEN session is PostgreSQL's own, named for an operator in pg_stat_activity.
      expect(servers.postgres.psql("select count(*) from pg_stat_activity where application_name = 'relay-outbox-listen'")).toBe("1");
    } finally {
      await relay.stop();
    }
    expect(servers.postgres.psql("select count(*) from pg_stat_activity where application_name = 'relay-outbox-listen'")).toBe("0");
  }, 60_000);

  it("without a LISTEN session it relays on the poll, and says it is not listening", async () => {
    const publisher = collecting();
    const relay = new OutboxRelay({ pool: relayPool, publisher, table: OUTBOX, types: [jobFinished], logger, pollMs: 300 });
    relay.start();
    try {
      await commitOne("polled-1");
      await expect.poll(() => publisher.ids, { timeout: 5_000, interval: 20 }).toEqual(["polled-1"]);
      expect(relay.listening).toBe(false);
    } finally {
      await relay.stop();
    }
  }, 30_000);
});
