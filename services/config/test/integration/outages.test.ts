import amqp from "amqplib";
import { Client } from "pg";
import { loadEnv, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { listenConnection } from "../../src/change-feed";
import { connectDependencies } from "../../src/dependencies";
import { configServiceEnv } from "../../src/service-env";
import type { VersionRecord } from "../../src/version-store";
import { quietLogger, startConfigServers, type ConfigServers } from "./config-servers";

let servers: ConfigServers;
let app: ServiceApp;
let token: string;
const QUEUE = "config-outage-events";

type Json = Record<string, unknown>;

async function call(method: "GET" | "PUT", url: string, body?: Json) {
  const response = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body }),
  });
  return { status: response.statusCode, body: response.json() as Json };
}

const database = () => `config_${process.pid}`;
const outboxPending = () => servers.postgres.psql("SELECT count(*) FROM config_outbox", database());

async function brokerChannel<T>(work: (channel: amqp.Channel) => Promise<T>): Promise<T> {
  const a = servers.amqp as NonNullable<ConfigServers["amqp"]>;
  const connection = await amqp.connect({ protocol: "amqps", hostname: a.host, port: a.port, vhost: a.vhost, username: a.user, password: a.password }, a.tls);
  try {
    return await work(await connection.createChannel());
  } finally {
    await connection.close();
  }
}

beforeAll(async () => {
  servers = await startConfigServers({ rabbit: true });
  await brokerChannel(async (channel) => {
    await channel.assertExchange("events", "topic", { durable: true });
    await channel.assertQueue(QUEUE, { durable: true });
    await channel.bindQueue(QUEUE, "events", "config.changed");
  });
  app = await buildApp(await connectDependencies(loadEnv(configServiceEnv, servers.env()), quietLogger()));
  await app.ready();
  token = await servers.jwks.sign({ sub: "ops", roles: ["config:write"] });
  expect((await call("PUT", "/namespaces/app", { schema: { type: "object" } })).status).toBe(201);
});

afterAll(async () => {
  await app?.close();
  await servers?.stop();
});

describe("when a dependency goes away", () => {
  it("keeps accepting writes while the broker is down and publishes their events once it is back", async () => {
    await servers.rabbit?.stop();
    await expect.poll(async () => (await app.inject({ method: "GET", url: "/health/ready" })).json(), { timeout: 30_000 }).toMatchObject({ error: { details: { failed: ["rabbitmq"] } } });
    const written = await call("PUT", "/namespaces/app/environments/prod", { document: { n: 1 }, reason: "during broker outage" });
    expect(written.status).toBe(201);
    expect(outboxPending()).toBe("1");

    await servers.rabbit?.start();
    await expect.poll(outboxPending, { timeout: 60_000, interval: 500 }).toBe("0");
    const delivered = await brokerChannel((channel) => channel.get(QUEUE, { noAck: true }));
    expect(delivered && JSON.parse(delivered.content.toString())).toEqual({ namespace: "app", environment: "prod", version: 1 });
  });

  it("serves reads and writes from PostgreSQL while Redis is down, and caches again once it is back", async () => {
    await servers.redis.kill();
    const read = await call("GET", "/namespaces/app/environments/prod");
    expect(read).toMatchObject({ status: 200, body: { version: 1 } });
    expect((await call("PUT", "/namespaces/app/environments/prod", { document: { n: 2 }, reason: "during redis outage" })).status).toBe(201);
    expect((await call("GET", "/namespaces/app/environments/prod")).body).toMatchObject({ version: 2, document: { n: 2 } });
    expect((await app.inject({ method: "GET", url: "/health/ready" })).json()).toMatchObject({ error: { details: { failed: ["redis"] } } });

    await servers.redis.start();
    await expect.poll(async () => (await app.inject({ method: "GET", url: "/health/ready" })).statusCode, { timeout: 30_000 }).toBe(200);
    expect((await call("GET", "/namespaces/app/environments/prod")).body).toMatchObject({ version: 2 });
  });

  it("wakes watchers for a write made while its LISTEN connection was cut, once it reconnects", async () => {
    const parked = app.inject({ method: "GET", url: "/namespaces/app/environments/prod/watch?sinceVersion=2&wait=50s" });
    await expect.poll(async () => (await app.kit.metrics.getSingleMetric("config_watches_waiting")?.get())?.values[0]?.value).toBe(1);
    servers.postgres.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'config-change-feed'");
    // Committed while the feed is still reconnecting (its first retry waits 200 ms): the NOTIFY is
    // lost with the old connection, and the resync after reconnecting is what finds the version.
    expect((await call("PUT", "/namespaces/app/environments/prod", { document: { n: 3 }, reason: "while LISTEN was down" })).status).toBe(201);
    const woke = (await parked).json() as { versions: VersionRecord[]; outcome: string };
    expect(woke.outcome).toBe("changed");
    expect(woke.versions.map((v) => v.version)).toEqual([3]);
    await expect.poll(() => servers.postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'config-change-feed'"), { timeout: 20_000 }).toBe("1");
  });

  it("answers 503 with Retry-After, and writes nothing, when the namespace stays locked past the statement timeout", async () => {
    const holder = new Client(listenConnection(servers.databaseUrl, servers.databasePassword, servers.databaseCa));
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT 1 FROM config_namespaces WHERE name = 'app' FOR UPDATE");
      const response = await app.inject({
        method: "PUT",
        url: "/namespaces/app/environments/prod",
        headers: { authorization: `Bearer ${token}` },
        payload: { document: { n: 99 }, reason: "blocked" },
      });
      expect(response.statusCode).toBe(503);
      expect(response.headers["retry-after"]).toBe("1");
      expect(response.json()).toMatchObject({ error: { code: "NAMESPACE_BUSY", message: expect.stringMatching(/^params\.namespace: /) } });
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
    expect((await call("GET", "/namespaces/app/environments/prod")).body).toMatchObject({ version: 3 });
    expect((await call("PUT", "/namespaces/app/environments/prod", { document: { n: 4 }, reason: "after the lock" })).status).toBe(201);
  });
});
