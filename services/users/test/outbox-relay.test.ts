import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger, createPgPool, runMigrations, type Pool } from "@fundament/kit";
import { OutboxRelay, PublishError, type MessageType } from "@fundament/kit/messaging";
import { startPostgres, type PostgresServer } from "../../../scripts/local-servers/postgres-server";
import { USERS_OUTBOX } from "../src/domain/users-outbox";
import { USER_EVENT_TYPES, userDisabled, userRegistered } from "../src/domain/user-events";
import { join } from "node:path";

let server: PostgresServer;
let pool: Pool;
const logLines: string[] = [];
const log = createLogger({ service: "users-test", destination: new Writable({ write: (chunk, _e, done) => { logLines.push(chunk.toString()); done(); } }) });

beforeAll(async () => {
  server = await startPostgres();
  server.psql("create database users_outbox");
  server.psql(`alter role postgres password '${server.superuserPassword}'`);
  pool = createPgPool({ url: `postgres://postgres@127.0.0.1:${server.port}/users_outbox`, password: server.superuserPassword, ca: server.caPem, applicationName: "outbox-test" });
  await runMigrations({ pool, directory: join(__dirname, "..", "migrations"), lockName: "users" });
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await server?.destroy();
});

async function enqueue(type: string, payload: unknown): Promise<void> {
  await pool.query("insert into outbox (type, payload) values ($1, $2)", [type, JSON.stringify(payload)]);
}

async function remaining(): Promise<string[]> {
  return (await pool.query<{ type: string }>("select type from outbox order by id")).rows.map((r) => r.type);
}

describe("outbox relay", () => {
  it("drops an event no queue subscribes to, keeps going, and keeps an event the broker may not hold", async () => {
    const sent: string[] = [];
    const publisher = {
      publish: async <T>(type: MessageType<T>): Promise<void> => {
        if (type.name === userRegistered.name) throw new PublishError("no queue is bound to events for routing key user.registered", false, true);
        if (sent.includes(type.name)) return;
        sent.push(type.name);
        throw new PublishError("broker unavailable: message not sent within the publish timeout", false);
      },
    };
    await enqueue(userRegistered.name, { userId: "00000000-0000-4000-8000-000000000001", email: "a@example.com", roles: [], registeredAt: "2026-11-26T10:00:00.000Z" });
    await enqueue(userDisabled.name, { userId: "00000000-0000-4000-8000-000000000001", disabledBy: "00000000-0000-4000-8000-000000000002", disabledAt: "2026-11-26T10:00:00.000Z" });
    const relay = new OutboxRelay({ pool, publisher, table: USERS_OUTBOX, types: USER_EVENT_TYPES, logger: log, pollMs: 60_000 });
    relay.kick();
    await relay.stop();
    // The unsubscribed event is gone; the one the broker failed to take waits for the next run.
    expect(await remaining()).toEqual([userDisabled.name]);
    expect(logLines.join("")).toContain("event has no subscriber; dropped");
    const again = new OutboxRelay({ pool, publisher, table: USERS_OUTBOX, types: USER_EVENT_TYPES, logger: log, pollMs: 60_000 });
    again.kick();
    await again.stop();
    expect(await remaining()).toEqual([]);
  });
});
