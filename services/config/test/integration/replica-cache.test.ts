// Two replicas of the config service on one real PostgreSQL and Redis, each with its in-process
// copies of the current versions (src/replica-cache.ts): what one writes, the other serves on its
// next read within a measured bound; each reads its own writes; that an environment has no entry
// of its own is held too; and a LISTEN connection that is cut, or goes silent, never leaves a
// replica serving a stale copy.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { Redis } from "ioredis";
import { createJwksVerifier, createPgPool, createRedis, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { listenConnection, PostgresChangeFeed } from "../../src/change-feed";
import { CurrentCache } from "../../src/current-cache";
import { DATABASE_IDENTITY_QUERY } from "../../src/database-identity";
import { AUDIENCE, ISSUER, quietLogger, startConfigServers, type ConfigServers } from "./config-servers";

/** What the README promises: another replica's write is served by this one within this. */
const VISIBILITY_BOUND_MS = 1000;
const HEARTBEAT_MS = 1000;

let servers: ConfigServers;
let token: string;
let observer: Redis;
let proxy: FreezableProxy;
let replicaA: ServiceApp;
let replicaB: ServiceApp;
let identity: string;
const apps: ServiceApp[] = [];
const database = `config_${process.pid}`;

/**
 * A TCP relay to PostgreSQL that can stop passing bytes without closing anything: what a LISTEN
 * connection sees when a peer vanishes or a firewall drops its state (no FIN, no RST). What is
 * sent meanwhile is held and delivered on thawing, as TCP retransmits once a partition heals, so a
 * connection its client kept is intact afterwards.
 */
interface FreezableProxy {
  port: number;
  frozen: boolean;
  close(): Promise<void>;
}

async function startProxy(targetPort: number): Promise<FreezableProxy> {
  const sockets = new Set<Socket>();
  const held: { to: Socket; chunk: Buffer }[] = [];
  const state = { frozen: false };
  const relay = (to: Socket) => (chunk: Buffer) => {
    if (state.frozen) held.push({ to, chunk });
    else if (!to.destroyed) to.write(chunk);
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection(targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => sockets.delete(socket));
    }
    client.on("data", relay(upstream));
    upstream.on("data", relay(client));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    port: address.port,
    get frozen() {
      return state.frozen;
    },
    set frozen(value: boolean) {
      state.frozen = value;
      if (value) return;
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A replica as deployed: its pool on the database, its LISTEN session on `listenPort`. */
async function replica(name: string, listenPort: number): Promise<ServiceApp> {
  const url = `postgres://config@127.0.0.1:${servers.postgres.port}/${database}`;
  const logger = quietLogger();
  const app = await buildApp({
    logger,
    pool: createPgPool({ url, password: servers.databasePassword, ca: servers.databaseCa, applicationName: `config-${name}` }),
    redis: createRedis({ url: servers.redisUrl, tls: servers.redisTls, connectionName: `config-${name}` }),
    changeFeed: await PostgresChangeFeed.start({
      connection: { ...listenConnection(`postgres://config@127.0.0.1:${listenPort}/${database}`, servers.databasePassword, servers.databaseCa), application_name: `config-feed-${name}` },
      logger,
      reconnectDelayMs: 100,
      heartbeatMs: HEARTBEAT_MS,
    }),
    verifier: await createJwksVerifier({ jwksUrl: servers.jwks.url, issuer: ISSUER, audience: AUDIENCE }),
  });
  await app.ready();
  apps.push(app);
  return app;
}

const entry = (env: string) => `/namespaces/app/environments/${env}`;

async function read(app: ServiceApp, env: string): Promise<{ version: number; document: Record<string, unknown> }> {
  const response = await app.inject({ method: "GET", url: entry(env) });
  expect(response.statusCode, response.body).toBe(200);
  const body = response.json<{ version: number; document: Record<string, unknown> }>();
  // From the replica's own copy or from Redis or PostgreSQL, a read names its version the same way.
  expect(response.headers.etag).toBe(`"${body.version}"`);
  expect(response.headers["content-type"]).toBe("application/json; charset=utf-8");
  return body;
}

async function write(app: ServiceApp, env: string, document: Record<string, unknown>): Promise<number> {
  const response = await app.inject({ method: "PUT", url: entry(env), headers: { authorization: `Bearer ${token}` }, payload: { document, reason: "replica cache test" } });
  expect(response.statusCode, response.body).toBe(201);
  return (response.json() as { version: number }).version;
}

/** Reads `app` until it serves `version`; the milliseconds that took. */
async function visibleAfter(app: ServiceApp, env: string, version: number, limitMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const served = await read(app, env);
    const elapsed = performance.now() - started;
    if (served.version === version) return elapsed;
    if (elapsed > limitMs) throw new Error(`${env}: still serving version ${served.version} ${elapsed.toFixed(0)} ms after version ${version} was written`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/**
 * Replaces the shared Redis copy with a document no replica wrote: a replica that still answers
 * with the real one served it from its own copy.
 */
async function poisonRedis(env: string): Promise<void> {
  const cache = new CurrentCache(observer, { current: identity });
  const key = cache.key("app", env) as string;
  const stored = (await observer.get(key)) as string;
  const version = Number(stored.slice(0, stored.indexOf(":")));
  const record = JSON.parse(stored.slice(stored.indexOf(":") + 1)) as Record<string, unknown>;
  await observer.set(key, `${version}:${JSON.stringify({ ...record, document: { poisoned: true } })}`, "EX", 300);
}

/**
 * Writes { n: 1 } through A and lets B hold it, then writes { n: 2 } through A while B's LISTEN relay
 * holds every byte back, and runs `check` while B has still heard of nothing (checked first: B
 * serves its copy of 1 to a read that names no version). Afterwards B hears it all and is ready.
 */
async function writtenWhileBIsDeaf(env: string, check: (first: number, second: number) => Promise<void>): Promise<void> {
  await expect.poll(() => ready(replicaB), { timeout: 15_000, interval: 100 }).toBe(200);
  const first = await write(replicaA, env, { n: 1 });
  // B may hold that the entry had no version (an effective read of another environment reads the
  // base): like any held copy, that lasts until the NOTIFY of version 1 arrives.
  await expect.poll(async () => (await replicaB.inject({ method: "GET", url: entry(env) })).json<{ version?: number }>().version, { timeout: VISIBILITY_BOUND_MS, interval: 5 }).toBe(first);
  proxy.frozen = true;
  try {
    const second = await write(replicaA, env, { n: 2 });
    expect((await read(replicaB, env)).version).toBe(first);
    await check(first, second);
  } finally {
    proxy.frozen = false;
  }
  await expect.poll(() => ready(replicaB), { timeout: 30_000, interval: 200 }).toBe(200);
}

/** Readiness includes the change feed: 200 once its LISTEN connection is up. (Polled in process: psql would block the relay's event loop.) */
const ready = async (app: ServiceApp) => (await app.inject({ method: "GET", url: "/health/ready" })).statusCode;

beforeAll(async () => {
  servers = await startConfigServers({ rabbit: false });
  token = await servers.jwks.sign({ sub: "ops", roles: ["config:write"] });
  observer = new Redis(servers.redisUrl, { tls: servers.redisTls });
  identity = servers.postgres.psql(DATABASE_IDENTITY_QUERY, database);
  proxy = await startProxy(servers.postgres.port);
  replicaA = await replica("a", servers.postgres.port);
  replicaB = await replica("b", proxy.port);
  const created = await replicaA.inject({ method: "PUT", url: "/namespaces/app", headers: { authorization: `Bearer ${token}` }, payload: { schema: { type: "object" } } });
  expect(created.statusCode, created.body).toBe(201);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(apps.map((app) => app.close()));
  await proxy?.close();
  observer?.disconnect();
  await servers?.stop();
});

describe("each replica's own copies of the current versions", () => {
  it("serves a write made through another replica on the next read once its NOTIFY arrives, within the bound", async () => {
    await write(replicaA, "prod", { n: 0 });
    await read(replicaB, "prod");
    // B now answers from its own copy: the shared Redis copy no longer matters to it.
    await poisonRedis("prod");
    expect((await read(replicaB, "prod")).document).toEqual({ n: 0 });

    const delays: number[] = [];
    for (let n = 1; n <= 20; n += 1) {
      const version = await write(replicaA, "prod", { n });
      delays.push(await visibleAfter(replicaB, "prod", version, 5000));
      expect((await read(replicaB, "prod")).document).toEqual({ n });
    }
    delays.sort((x, y) => x - y);
    const worst = delays[delays.length - 1]!;
    console.log(`replica-cache: another replica's write visible after median ${delays[10]!.toFixed(1)} ms, worst ${worst.toFixed(1)} ms of 20 (bound ${VISIBILITY_BOUND_MS} ms)`);
    expect(worst).toBeLessThan(VISIBILITY_BOUND_MS);
  });

  it("holds that an environment has no entry of its own, so its effective reads skip Redis and PostgreSQL, until the first write to it", async () => {
    const auth = { authorization: `Bearer ${token}` };
    const created = await replicaA.inject({ method: "PUT", url: "/namespaces/quiet", headers: auth, payload: { schema: { type: "object" } } });
    expect(created.statusCode, created.body).toBe(201);
    const base = await replicaA.inject({ method: "PUT", url: "/namespaces/quiet/environments/base", headers: auth, payload: { document: { tier: "base" }, reason: "replica cache test" } });
    expect(base.statusCode, base.body).toBe(201);
    const effective = async (app: ServiceApp, env: string) => {
      const response = await app.inject({ method: "GET", url: `/namespaces/quiet/environments/${env}/effective` });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as { version: number; baseVersion: number; document: Record<string, unknown> };
    };
    expect(await effective(replicaB, "dev")).toMatchObject({ version: 0, baseVersion: 1, document: { tier: "base" } });

    // A shared copy no replica wrote, claiming dev has a version: a replica that still looked in
    // Redis for dev's own entry would merge it in.
    const key = new CurrentCache(observer, { current: identity }).key("quiet", "dev") as string;
    const planted = { namespace: "quiet", environment: "dev", version: 7, document: { planted: true }, patch: [], actor: "nobody", reason: "planted", restoredFrom: null, createdAt: new Date().toISOString() };
    await observer.set(key, `7:${JSON.stringify(planted)}`, "EX", 300);
    for (let i = 0; i < 3; i += 1) expect(await effective(replicaB, "dev")).toMatchObject({ version: 0, document: { tier: "base" } });
    const own = await replicaB.inject({ method: "GET", url: "/namespaces/quiet/environments/dev" });
    expect(own.statusCode, own.body).toBe(404);
    expect((own.json() as { error: { message: string } }).error.message).toBe("params.environment: quiet/dev has no version yet");
    await observer.del(key);

    // The first write through the other replica ends it within the bound; on the writer, at once.
    const written = await replicaA.inject({ method: "PUT", url: "/namespaces/quiet/environments/dev", headers: auth, payload: { document: { tier: "dev" }, reason: "replica cache test" } });
    expect(written.statusCode, written.body).toBe(201);
    await expect.poll(async () => (await effective(replicaB, "dev")).version, { timeout: VISIBILITY_BOUND_MS, interval: 5 }).toBe(1);
    expect(await effective(replicaB, "dev")).toMatchObject({ version: 1, document: { tier: "dev" } });
    expect(await effective(replicaB, "qa")).toMatchObject({ version: 0, document: { tier: "base" } });
    const ownWrite = await replicaB.inject({ method: "PUT", url: "/namespaces/quiet/environments/qa", headers: auth, payload: { document: { tier: "qa" }, reason: "replica cache test" } });
    expect(ownWrite.statusCode, ownWrite.body).toBe(201);
    expect(await effective(replicaB, "qa")).toMatchObject({ version: 1, document: { tier: "qa" } });

    // A new base through the other replica reaches every environment's effective document, each
    // read here many times before (served from text made once per pair of copies).
    const rebased = await replicaA.inject({ method: "PUT", url: "/namespaces/quiet/environments/base", headers: auth, payload: { document: { tier: "base", region: "eu" }, reason: "replica cache test" } });
    expect(rebased.statusCode, rebased.body).toBe(201);
    await expect.poll(async () => (await effective(replicaB, "dev")).baseVersion, { timeout: VISIBILITY_BOUND_MS, interval: 5 }).toBe(2);
    expect(await effective(replicaB, "dev")).toEqual({ namespace: "quiet", environment: "dev", baseVersion: 2, version: 1, document: { tier: "dev", region: "eu" } });
    expect(await effective(replicaB, "staging")).toEqual({ namespace: "quiet", environment: "staging", baseVersion: 2, version: 0, document: { tier: "base", region: "eu" } });
    expect(await effective(replicaB, "base")).toEqual({ namespace: "quiet", environment: "base", baseVersion: 2, version: 2, document: { tier: "base", region: "eu" } });
  });

  it("never serves a shared copy older than a version it was notified of (the writer's Redis update can come after its NOTIFY)", async () => {
    await write(replicaA, "lag", { n: 1 });
    await read(replicaB, "lag");
    const key = new CurrentCache(observer, { current: identity }).key("app", "lag") as string;
    const first = (await observer.get(key)) as string;
    const second = await write(replicaA, "lag", { n: 2 });
    // The shared level goes back to version 1, as when the writer's Redis update lags its NOTIFY.
    await observer.set(key, first, "EX", 300);
    // Until B hears of version 2 it may serve its own copy of 1; once it has, never 1 again.
    await visibleAfter(replicaB, "lag", second, VISIBILITY_BOUND_MS);
    for (let i = 0; i < 5; i += 1) expect(await read(replicaB, "lag")).toMatchObject({ version: second, document: { n: 2 } });
  });

  it("always reads its own writes, on either replica, right after the write returns", async () => {
    await read(replicaA, "staging").catch(() => undefined);
    for (let n = 1; n <= 30; n += 1) {
      const writer = n % 2 === 0 ? replicaA : replicaB;
      const version = await write(writer, "staging", { n });
      const served = await read(writer, "staging");
      expect(served).toMatchObject({ version, document: { n } });
    }
  });

  it("reads back a write made through another replica at once when the reader names its version, before the NOTIFY arrives", async () => {
    // Each read names the written version in its own parameter; the last reads the base entry's write through an environment without an entry of its own.
    const reads: { env: string; url: (version: number) => string; field: string; servedAs: "version" | "baseVersion" }[] = [
      { env: "known", url: (version) => `${entry("known")}?minVersion=${version}`, field: "minVersion", servedAs: "version" },
      { env: "known-effective", url: (version) => `${entry("known-effective")}/effective?minVersion=${version}`, field: "minVersion", servedAs: "version" },
      { env: "base", url: (version) => `${entry("base-reader")}/effective?minBaseVersion=${version}`, field: "minBaseVersion", servedAs: "baseVersion" },
    ];
    for (const { env, url, field, servedAs } of reads) {
      await writtenWhileBIsDeaf(env, async (first, second) => {
        // The shared copy lags too (as when the writer's Redis update failed): only PostgreSQL has 2.
        const key = new CurrentCache(observer, { current: identity }).key("app", env) as string;
        const servedFirst = (await replicaB.inject({ method: "GET", url: entry(env) })).body;
        await observer.set(key, `${first}:${servedFirst}`, "EX", 300);
        const named = await replicaB.inject({ method: "GET", url: url(second) });
        expect(named.statusCode, named.body).toBe(200);
        expect(named.json()).toMatchObject({ [servedAs]: second, document: { n: 2 } });
        // What it read, it holds: the next read that names nothing is not older.
        expect(await read(replicaB, env)).toMatchObject({ version: second, document: { n: 2 } });
        const ahead = await replicaB.inject({ method: "GET", url: url(second + 5) });
        expect(ahead.statusCode, ahead.body).toBe(404);
        expect((ahead.json() as { error: { message: string } }).error.message).toBe(
          `querystring.${field}: version ${second + 5} of app/${env} does not exist; the current version is ${second}`,
        );
      });
    }
  });

  it("answers an effective watch with the document at the versions it reports, when its own copy has not heard of them", async () => {
    await writtenWhileBIsDeaf("watched", async (first, second) => {
      const woke = await replicaB.inject({ method: "GET", url: `${entry("watched")}/effective/watch?baseVersion=0&version=${first}&wait=0` });
      expect(woke.statusCode, woke.body).toBe(200);
      expect(woke.json()).toMatchObject({ outcome: "changed", version: second, effective: { version: second, document: { n: 2 } } });
    });
  });

  it("serves nothing from its copies while its LISTEN connection is cut, and follows writes again once it is back", async () => {
    const before = await write(replicaA, "cut", { n: 1 });
    expect((await read(replicaB, "cut")).version).toBe(before);
    await poisonRedis("cut");
    expect((await read(replicaB, "cut")).document).toEqual({ n: 1 });

    servers.postgres.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'config-feed-b'");
    // Written while B cannot hear it: B's copy of version 1 must not be what B answers now.
    const during = await write(replicaA, "cut", { n: 2 });
    expect(await read(replicaB, "cut")).toMatchObject({ version: during, document: { n: 2 } });

    await expect.poll(() => ready(replicaB), { timeout: 15_000, interval: 100 }).toBe(200);
    const after = await write(replicaA, "cut", { n: 3 });
    await visibleAfter(replicaB, "cut", after, VISIBILITY_BOUND_MS);
    // And it holds copies again: it no longer reads the (poisoned) shared one.
    await poisonRedis("cut");
    expect((await read(replicaB, "cut")).document).toEqual({ n: 3 });
  });

  it("stops serving its copies when its LISTEN connection goes silent, within a few heartbeats", { timeout: 60_000 }, async () => {
    await expect.poll(() => ready(replicaB), { timeout: 15_000, interval: 100 }).toBe(200);
    const before = await write(replicaA, "silent", { n: 1 });
    expect((await read(replicaB, "silent")).version).toBe(before);
    await poisonRedis("silent");
    // B holds its own copy: what follows is about that copy, not the shared one.
    expect((await read(replicaB, "silent")).document).toEqual({ n: 1 });
    proxy.frozen = true;
    try {
      // Committed, notified, and stuck in the frozen relay: only the heartbeat can tell B.
      const during = await write(replicaA, "silent", { n: 2 });
      // The heartbeat's promise: no more than three periods (the next one, and its deadline of two).
      const waited = await visibleAfter(replicaB, "silent", during, 3 * HEARTBEAT_MS + 500);
      console.log(`replica-cache: a silent LISTEN connection stopped the stale copy after ${waited.toFixed(0)} ms (heartbeat ${HEARTBEAT_MS} ms)`);
    } finally {
      proxy.frozen = false;
    }
    // A reconnect attempt made while frozen lost its start-up bytes and waits out its connect timeout.
    await expect.poll(() => ready(replicaB), { timeout: 30_000, interval: 200 }).toBe(200);
    const after = await write(replicaA, "silent", { n: 3 });
    await visibleAfter(replicaB, "silent", after, VISIBILITY_BOUND_MS);
  });
});
