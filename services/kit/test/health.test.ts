import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../../scripts/local-servers/postgres-server";
import { startRedis, type RedisServer } from "../../../scripts/local-servers/redis-server";
import { testPki } from "../../../scripts/local-servers/shared-test-pki";
import { createLogger } from "../src/logger";
import { checkPostgres, createPgPool } from "../src/postgres";
import { checkRedis, closeRedis, createRedis } from "../src/redis";
import { createService, type ServiceApp } from "../src/service";

let pg: PostgresServer;
let redis: RedisServer;
let app: ServiceApp;
let client: ReturnType<typeof createRedis>;

/** The client's connection is back (ioredis reconnects on its own, TLS handshake included). */
const redisAnswers = (): Promise<unknown> => (client.status === "ready" ? Promise.resolve() : new Promise((resolve) => client.once("ready", resolve)));

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPostgres(), startRedis("", { tls: true })]);
  const pool = createPgPool({ url: `postgres://postgres@127.0.0.1:${pg.port}/postgres`, password: pg.superuserPassword, ca: pg.caPem, applicationName: "kit-health", connectionTimeoutMs: 1000 });
  // TLS only, as the platform's Redis; the probe's PING goes through the verified connection.
  client = createRedis({ url: `rediss://${testPki().serverName}:${redis.port}`, tls: { ca: testPki().caPem }, connectionName: "kit-health", commandTimeoutMs: 500 });
  // Both connections up first (Redis's TLS handshake can outlast the 500 ms command timeout on a
  // loaded machine, and a PING queued behind it would time out): "every dependency answers".
  await Promise.all([checkPostgres(pool), redisAnswers()]);
  app = await createService({
    name: "health",
    logger: createLogger({ service: "health", level: "silent" }),
    readiness: [
      { name: "postgres", check: () => checkPostgres(pool), timeoutMs: 1500 },
      { name: "redis", check: () => checkRedis(client), timeoutMs: 1000 },
    ],
    closers: [() => pool.end(), () => closeRedis(client)],
  });
});
afterAll(async () => {
  await app?.close();
  await Promise.all([pg?.destroy(), redis?.destroy()]);
});

describe("health", () => {
  it("is ready while every dependency answers", async () => {
    const response = await app.inject("/health/ready");
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "ready", checks: { postgres: "ok", redis: "ok" } });
  });

  it("answers 503 naming the dependency that is down, and live stays 200", async () => {
    await redis.stop();
    const response = await app.inject("/health/ready");
    expect(response.statusCode).toBe(503);
    const body = response.json();
    expect(body.error.code).toBe("NOT_READY");
    expect(body.error.details.failed).toEqual(["redis"]);
    expect(body.error.details.checks.postgres).toBe("ok");
    expect(body.error.message).toMatch(/^not ready: redis /);
    expect((await app.inject("/health/live")).statusCode).toBe(200);
    await redis.start();
    await redisAnswers();
  });

  it("exports readiness as fundament_service_ready, evaluated at scrape time", async () => {
    const ready = async () => (await app.kit.metrics.getSingleMetric("fundament_service_ready")!.get()).values[0].value;
    expect(await ready()).toBe(1);
    await redis.stop();
    expect(await ready()).toBe(0);
    await redis.start();
    await redisAnswers();
    expect(await ready()).toBe(1);
  });

  it("answers 503 once draining, whatever the dependencies say", async () => {
    app.kit.readiness.drain();
    const response = await app.inject("/health/ready");
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe("SHUTTING_DOWN");
    expect((await app.kit.metrics.getSingleMetric("fundament_service_ready")!.get()).values[0].value).toBe(0);
  });
});
