import amqp from "amqplib";
import { Redis } from "ioredis";
import { loadEnv, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_LONG_POLLS } from "../../../../components/services/long-poll-routes";
import { buildApp } from "../../src/app";
import { CurrentCache } from "../../src/current-cache";
import { DATABASE_IDENTITY_QUERY } from "../../src/database-identity";
import { connectDependencies } from "../../src/dependencies";
import { configServiceEnv } from "../../src/service-env";
import type { VersionRecord } from "../../src/version-store";
import { quietLogger, startConfigServers, type ConfigServers } from "./config-servers";
import { readEventStream } from "./sse-reader";

const SCHEMA = {
  type: "object",
  required: ["db"],
  properties: {
    db: {
      type: "object",
      required: ["host", "port"],
      properties: { host: { type: "string", minLength: 1 }, port: { type: "integer", minimum: 1, maximum: 65535 }, pool: { type: "integer", minimum: 1 } },
    },
    features: { type: "array", items: { type: "string" } },
    proxy: { type: "string" },
  },
};

let servers: ConfigServers;
let replicaA: ServiceApp;
let replicaB: ServiceApp;
let writer: string;
let reader: string;
let observer: Redis;
let broker: amqp.ChannelModel;
const events: Array<{ body: unknown; messageId: string | undefined; routingKey: string }> = [];

async function replica(overrides: Record<string, string> = {}): Promise<ServiceApp> {
  const config = loadEnv(configServiceEnv, servers.env(overrides));
  const app = await buildApp(await connectDependencies(config, quietLogger()));
  await app.ready();
  return app;
}

type Json = Record<string, unknown>;

async function call(app: ServiceApp, method: "GET" | "PUT" | "POST", url: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const response = await app.inject({
    method,
    url,
    headers: { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...options.headers },
    ...(options.body === undefined ? {} : { payload: options.body as Json }),
  });
  return { status: response.statusCode, body: response.json() as Json, headers: response.headers };
}

async function watchesWaiting(app: ServiceApp): Promise<number | undefined> {
  const metric = await app.kit.metrics.getSingleMetric("config_watches_waiting")?.get();
  return metric?.values[0]?.value;
}

const entryUrl = (ns: string, env: string) => `/namespaces/${ns}/environments/${env}`;

async function createNamespace(name: string, schema: Json = SCHEMA): Promise<void> {
  const created = await call(replicaA, "PUT", `/namespaces/${name}`, { token: writer, body: { schema } });
  expect(created.status).toBe(201);
}

async function write(app: ServiceApp, ns: string, env: string, document: Json, extra: { ifMatch?: string; reason?: string } = {}) {
  return call(app, "PUT", entryUrl(ns, env), {
    token: writer,
    body: { document, reason: extra.reason ?? "test change" },
    ...(extra.ifMatch === undefined ? {} : { headers: { "if-match": extra.ifMatch } }),
  });
}

beforeAll(async () => {
  servers = await startConfigServers({ rabbit: true });
  const a = servers.amqp as NonNullable<ConfigServers["amqp"]>;
  broker = await amqp.connect({ protocol: "amqps", hostname: a.host, port: a.port, vhost: a.vhost, username: a.user, password: a.password }, a.tls);
  const channel = await broker.createChannel();
  // The broker layer declares `events` in its definitions; this vhost is the test's own.
  await channel.assertExchange("events", "topic", { durable: true });
  const { queue } = await channel.assertQueue("", { exclusive: true });
  await channel.bindQueue(queue, "events", "config.changed");
  await channel.consume(queue, (message) => {
    if (!message) return;
    events.push({ body: JSON.parse(message.content.toString()), messageId: message.properties.messageId as string | undefined, routingKey: message.fields.routingKey });
    channel.ack(message);
  });
  replicaA = await replica();
  replicaB = await replica();
  writer = await servers.jwks.sign({ sub: "alice", roles: ["config:write", "viewer"] });
  reader = await servers.jwks.sign({ sub: "bob", roles: ["viewer"] });
  observer = new Redis(servers.redisUrl, { tls: servers.redisTls });
});

afterAll(async () => {
  await Promise.all([replicaA?.close(), replicaB?.close()]);
  await broker?.close();
  observer?.disconnect();
  await servers?.stop();
});

describe("config versions", () => {
  it("keeps every write as a version with actor, reason and an RFC 6902 diff", async () => {
    await createNamespace("billing");
    const first = await write(replicaA, "billing", "base", { db: { host: "db", port: 5432 }, features: ["a"] }, { reason: "initial" });
    expect(first.status).toBe(201);
    expect(first.headers.etag).toBe('"1"');
    expect(first.body).toMatchObject({ version: 1, actor: "alice", reason: "initial", restoredFrom: null });
    expect(first.body.patch).toEqual([
      { op: "add", path: "/db", value: { host: "db", port: 5432 } },
      { op: "add", path: "/features", value: ["a"] },
    ]);
    const second = await write(replicaB, "billing", "base", { db: { host: "db2", port: 5432 }, features: ["a", "b"] }, { reason: "move db" });
    expect(second.body).toMatchObject({ version: 2, reason: "move db" });
    expect(second.body.patch).toEqual([
      { op: "replace", path: "/db/host", value: "db2" },
      { op: "add", path: "/features/1", value: "b" },
    ]);

    // Written through B, read through A: naming the version makes that independent of A having heard B's NOTIFY yet.
    const current = await call(replicaA, "GET", `${entryUrl("billing", "base")}?minVersion=2`);
    expect(current.body).toMatchObject({ version: 2, document: { db: { host: "db2" } } });
    const old = await call(replicaB, "GET", `${entryUrl("billing", "base")}/versions/1`);
    expect(old.body).toMatchObject({ version: 1, document: { db: { host: "db" } }, actor: "alice" });
    const history = await call(replicaA, "GET", `${entryUrl("billing", "base")}/versions`);
    expect((history.body.versions as VersionRecord[]).map((v) => v.version)).toEqual([1, 2]);
    const missing = await call(replicaA, "GET", `${entryUrl("billing", "base")}/versions/9`);
    expect(missing.status).toBe(404);
    expect((missing.body.error as Json).message).toMatch(/^params\.version: version 9/);
  });

  it("stores versions that PostgreSQL itself refuses to change or delete", () => {
    expect(() => servers.postgres.psql("UPDATE config_versions SET reason = 'rewritten'", `config_${process.pid}`)).toThrow(/append-only: UPDATE refused/);
    expect(() => servers.postgres.psql("DELETE FROM config_versions", `config_${process.pid}`)).toThrow(/append-only: DELETE refused/);
  });

  it("rolls back by writing the old document as a new version", async () => {
    const rolled = await call(replicaA, "POST", `${entryUrl("billing", "base")}/rollback`, { token: writer, body: { toVersion: 1, reason: "db2 is broken" } });
    expect(rolled.status).toBe(201);
    expect(rolled.body).toMatchObject({ version: 3, restoredFrom: 1, reason: "db2 is broken", document: { db: { host: "db", port: 5432 }, features: ["a"] } });
    expect(rolled.body.patch).toEqual([
      { op: "replace", path: "/db/host", value: "db" },
      { op: "remove", path: "/features/1" },
    ]);
    const history = await call(replicaB, "GET", `${entryUrl("billing", "base")}/versions`);
    expect((history.body.versions as VersionRecord[]).map((v) => v.version)).toEqual([1, 2, 3]);
    const nowhere = await call(replicaA, "POST", `${entryUrl("billing", "base")}/rollback`, { token: writer, body: { toVersion: 42, reason: "x" } });
    expect(nowhere.status).toBe(404);
    expect((nowhere.body.error as Json).message).toMatch(/^body\.toVersion: version 42/);
  });

  it("refuses a document that breaks the namespace schema, naming the path, and writes nothing", async () => {
    const refused = await write(replicaA, "billing", "base", { db: { host: "db", port: 70000 } });
    expect(refused.status).toBe(422);
    const error = refused.body.error as Json;
    expect(error.code).toBe("SCHEMA_VIOLATION");
    expect(error.message).toBe("body.document/db/port: must be <= 65535 in the effective document of environment base");
    const missing = await write(replicaA, "billing", "base", { db: { port: 1 } });
    expect((missing.body.error as Json).message).toMatch(/^body\.document\/db\/host: must have required property 'host'/);
    const current = await call(replicaA, "GET", entryUrl("billing", "base"));
    expect(current.body.version).toBe(3);
  });

  it("answers 412 when If-Match names a version that is no longer current", async () => {
    const stale = await write(replicaA, "billing", "base", { db: { host: "db", port: 1 } }, { ifMatch: "2" });
    expect(stale.status).toBe(412);
    expect(stale.body.error).toMatchObject({ code: "VERSION_CONFLICT", details: { expectedVersion: 2, currentVersion: 3 } });
    expect((stale.body.error as Json).message).toMatch(/^headers\.if-match: /);
    const fresh = await write(replicaB, "billing", "base", { db: { host: "db", port: 1 } }, { ifMatch: '"3"' });
    expect(fresh.status).toBe(201);
    expect(fresh.body.version).toBe(4);
    const createOnly = await write(replicaA, "billing", "staging", { db: { host: "s", port: 1 } }, { ifMatch: "0" });
    expect(createOnly.status).toBe(201);
    const again = await write(replicaA, "billing", "staging", { db: { host: "s", port: 2 } }, { ifMatch: "0" });
    expect(again.status).toBe(412);
  });

  it("lets exactly one of two concurrent writers with the same If-Match win", async () => {
    // The version the racers start from is one this test wrote: a read through the other replica could still be a version behind.
    const base = (await write(replicaB, "billing", "base", { db: { host: "start", port: 5432 } })).body.version as number;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => write(i % 2 ? replicaA : replicaB, "billing", "base", { db: { host: `racer-${i}`, port: 5432 } }, { ifMatch: String(base) })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 412, 412, 412, 412, 412]);
  });
});

describe("environment overlay", () => {
  it("serves the base merged with the environment's entry", async () => {
    await createNamespace("search");
    await write(replicaA, "search", "base", { db: { host: "db", port: 5432, pool: 5 }, features: ["x"], proxy: "http://proxy" });
    await write(replicaA, "search", "prod", { db: { host: "db-prod", pool: 50 }, proxy: null });
    const effective = await call(replicaB, "GET", `${entryUrl("search", "prod")}/effective`);
    expect(effective.body).toEqual({
      namespace: "search",
      environment: "prod",
      document: { db: { host: "db-prod", port: 5432, pool: 50 }, features: ["x"] },
      baseVersion: 1,
      version: 1,
    });
    const dev = await call(replicaB, "GET", `${entryUrl("search", "dev")}/effective`);
    expect(dev.body).toMatchObject({ document: { db: { host: "db" }, proxy: "http://proxy" }, baseVersion: 1, version: 0 });
  });

  it("checks the schema against the merged document of every environment a write affects", async () => {
    const overlay = await write(replicaA, "search", "prod", { db: { port: "not a number" } });
    expect(overlay.status).toBe(422);
    expect((overlay.body.error as Json).message).toBe("body.document/db/port: must be integer in the effective document of environment prod");
    // Removing the base's port would leave prod without one.
    const base = await write(replicaA, "search", "base", { db: { host: "db" } });
    expect(base.status).toBe(422);
    expect(base.body.error).toMatchObject({ details: expect.arrayContaining([{ field: "body.document/db/port", reason: "must have required property 'port'", environment: "prod" }]) });
    const schemaBreak = await call(replicaA, "PUT", "/namespaces/search", { token: writer, body: { schema: { ...SCHEMA, required: ["db", "owner"] } } });
    expect(schemaBreak.status).toBe(422);
    expect((schemaBreak.body.error as Json).message).toMatch(/^body\.schema\/owner: must have required property 'owner'/);
  });
});

describe("authorization", () => {
  it("refuses writes without a token, with a bad one, or without the role, and writes nothing", async () => {
    // The history comes from PostgreSQL, so this does not depend on which writes replica A has heard of.
    const newest = async () => ((await call(replicaA, "GET", `${entryUrl("billing", "base")}/versions?limit=500`)).body.versions as VersionRecord[]).at(-1)?.version;
    const before = await newest();
    expect(before).toBeGreaterThan(0);
    const body = { document: { db: { host: "evil", port: 1 } }, reason: "x" };
    const none = await call(replicaA, "PUT", entryUrl("billing", "base"), { body });
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBe("Bearer");
    const noRole = await call(replicaA, "PUT", entryUrl("billing", "base"), { token: reader, body });
    expect(noRole.status).toBe(403);
    expect((noRole.body.error as Json).message).toBe("headers.authorization: role config:write is required to change configuration");
    const forged = await servers.jwks.sign({ sub: "mallory", roles: ["config:write"] }, { key: await servers.jwks.strayKey() });
    expect((await call(replicaA, "PUT", entryUrl("billing", "base"), { token: forged, body })).status).toBe(401);
    const expired = await servers.jwks.sign({ sub: "alice", roles: ["config:write"] }, { expiresIn: "-1m" });
    const late = await call(replicaA, "PUT", entryUrl("billing", "base"), { token: expired, body });
    expect(late.status).toBe(401);
    expect((late.body.error as Json).message).toMatch(/^headers\.authorization: /);
    expect((await call(replicaA, "POST", `${entryUrl("billing", "base")}/rollback`, { token: reader, body: { toVersion: 1, reason: "x" } })).status).toBe(403);
    expect((await call(replicaA, "PUT", "/namespaces/other", { token: reader, body: { schema: {} } })).status).toBe(403);
    expect(await newest()).toBe(before);
  });

  it("requires the read role for reads when CONFIG_READ_ROLE is set", async () => {
    const guarded = await replica({ CONFIG_READ_ROLE: "config:read" });
    try {
      const auditor = await servers.jwks.sign({ sub: "dave", roles: ["config:read"] });
      for (const url of [entryUrl("billing", "base"), `${entryUrl("billing", "base")}/versions`, `${entryUrl("billing", "base")}/effective`, "/namespaces/billing", "/namespaces"]) {
        expect((await call(guarded, "GET", url)).status, url).toBe(401);
        expect((await call(guarded, "GET", url, { token: reader })).status, url).toBe(403);
        expect((await call(guarded, "GET", url, { token: auditor })).status, url).toBe(200);
        expect((await call(guarded, "GET", url, { token: writer })).status, url).toBe(200);
      }
      expect((await call(guarded, "GET", `${entryUrl("billing", "base")}/watch?sinceVersion=0`)).status).toBe(401);
      const refused = await call(guarded, "GET", entryUrl("billing", "base"), { token: reader });
      expect((refused.body.error as Json).message).toBe("headers.authorization: one of the roles config:read, config:write is required to read configuration");
      expect((await call(guarded, "PUT", entryUrl("billing", "base"), { token: auditor, body: { document: {}, reason: "x" } })).status).toBe(403);
    } finally {
      await guarded.close();
    }
  });

  it("accepts a token signed with a key the users service rotated in, by fetching the JWKS again", async () => {
    const fetchesBefore = servers.jwks.fetches;
    const key = await servers.jwks.rotate();
    const token = await servers.jwks.sign({ sub: "carol", roles: ["config:write"] }, { key });
    const written = await write(replicaA, "search", "dev", { proxy: "http://dev-proxy" });
    expect(written.status).toBe(201);
    const rotated = await call(replicaA, "PUT", entryUrl("search", "dev"), { token, body: { document: { proxy: "http://p2" }, reason: "rotated key" } });
    expect(rotated.status).toBe(201);
    expect(rotated.body.actor).toBe("carol");
    expect(servers.jwks.fetches).toBeGreaterThan(fetchesBefore);
  });
});

describe("cache", () => {
  /** The cache as the replicas see it: keyed by the identity of the database they read. */
  const observedCache = () => new CurrentCache(observer, { current: servers.postgres.psql(DATABASE_IDENTITY_QUERY, `config_${process.pid}`) });

  it("holds the current version in Redis and replaces it when a write lands", async () => {
    await createNamespace("cache-demo", { type: "object" });
    const cache = observedCache();
    const key = cache.key("cache-demo", "base") as string;
    await write(replicaA, "cache-demo", "base", { n: 1 });
    await observer.del(key);
    await call(replicaB, "GET", entryUrl("cache-demo", "base"));
    expect(await observer.get(key)).toMatch(/^1:/);
    expect(await observer.ttl(key)).toBeGreaterThan(0);
    // Planted directly: proof that a replica holding no copy of its own reads Redis, not PostgreSQL
    // (A and B hold theirs in process since the write and the read: replica-cache.test.ts).
    const planted = (await cache.get("cache-demo", "base")) as VersionRecord;
    await observer.set(key, `1:${JSON.stringify({ ...planted, document: { n: "from-redis" } })}`, "EX", 60);
    const replicaC = await replica();
    try {
      expect((await call(replicaC, "GET", entryUrl("cache-demo", "base"))).body.document).toEqual({ n: "from-redis" });
    } finally {
      await replicaC.close();
    }

    await write(replicaB, "cache-demo", "base", { n: 2 });
    expect(await observer.get(key)).toMatch(/^2:/);
    await expect.poll(async () => (await call(replicaA, "GET", entryUrl("cache-demo", "base"))).body).toMatchObject({ version: 2, document: { n: 2 } });
  });

  it("never lets a slow reader put an older version back", async () => {
    const cache = observedCache();
    const v1 = (await call(replicaA, "GET", `${entryUrl("cache-demo", "base")}/versions/1`)).body as unknown as VersionRecord;
    expect(await cache.offer(v1, cache.identityNow)).toBe(false);
    expect(await observer.get(cache.key("cache-demo", "base") as string)).toMatch(/^2:/);
  });
});

describe("change events", () => {
  it("publishes {namespace, environment, version} to `events` for every write", async () => {
    await createNamespace("events-demo", { type: "object" });
    for (const n of [1, 2, 3]) await write(n === 2 ? replicaB : replicaA, "events-demo", "prod", { n });
    await call(replicaA, "POST", `${entryUrl("events-demo", "prod")}/rollback`, { token: writer, body: { toVersion: 1, reason: "r" } });
    await expect.poll(() => events.filter((e) => (e.body as Json).namespace === "events-demo").length, { timeout: 20_000 }).toBeGreaterThanOrEqual(4);
    const mine = events.filter((e) => (e.body as Json).namespace === "events-demo");
    // Both replicas relay; the outbox lock makes them take turns, so each event leaves once and in order.
    expect(mine.map((e) => e.body)).toEqual([1, 2, 3, 4].map((version) => ({ namespace: "events-demo", environment: "prod", version })));
    expect(mine.map((e) => e.messageId)).toEqual(["events-demo/prod/1", "events-demo/prod/2", "events-demo/prod/3", "events-demo/prod/4"]);
    expect(new Set(mine.map((e) => e.routingKey))).toEqual(new Set(["config.changed"]));
    await expect.poll(() => servers.postgres.psql("SELECT count(*) FROM config_outbox", `config_${process.pid}`)).toBe("0");
  });
});

describe("watch", () => {
  it("lists for the gateway and the latency alerts exactly the routes that wait: the watches and the event stream", async () => {
    const document = (await replicaA.inject("/docs/json")).json() as { paths: Record<string, { get?: { parameters?: Array<{ name: string; in: string }> } }> };
    const template = (path: string) => path.replace(/\{(\w+)\}/g, ":$1");
    const waiting = Object.entries(document.paths)
      .filter(([, methods]) => methods.get?.parameters?.some((p) => p.in === "query" && p.name === "wait"))
      .map(([path]) => template(path));
    const listed = SERVICE_LONG_POLLS.config.map((poll) => poll.path);
    expect(listed).toEqual(expect.arrayContaining(waiting));
    // The stream has no wait: it is held until the client leaves.
    expect(listed.filter((path) => !waiting.includes(path))).toEqual(["/namespaces/:namespace/environments/:environment/stream"]);
    for (const path of listed) expect(replicaA.hasRoute({ method: "GET", url: path }), path).toBe(true);
  });

  it("wakes a long poll on one replica when another replica writes", async () => {
    await createNamespace("watch-demo", { type: "object" });
    await write(replicaA, "watch-demo", "prod", { n: 1 });
    const waiting = replicaA.inject({ method: "GET", url: `${entryUrl("watch-demo", "prod")}/watch?sinceVersion=1&wait=50s` });
    // Only once the watch is parked does the write go in, so the wake is what answers it.
    await expect.poll(() => watchesWaiting(replicaA)).toBe(1);
    await write(replicaB, "watch-demo", "prod", { n: 2 });
    const woke = (await waiting).json() as Json;
    expect(woke.outcome).toBe("changed");
    expect((woke.versions as VersionRecord[]).map((v) => [v.version, v.document])).toEqual([[2, { n: 2 }]]);
    expect(woke.nextSinceVersion).toBe(2);
  });

  it("resumes from a version without missing any", async () => {
    for (const n of [3, 4, 5, 6, 7]) await write(n % 2 ? replicaA : replicaB, "watch-demo", "prod", { n });
    const caughtUp = (await call(replicaB, "GET", `${entryUrl("watch-demo", "prod")}/watch?sinceVersion=2&wait=10s`)).body;
    expect((caughtUp.versions as VersionRecord[]).map((v) => v.version)).toEqual([3, 4, 5, 6, 7]);
    const paged = (await call(replicaB, "GET", `${entryUrl("watch-demo", "prod")}/watch?sinceVersion=2&limit=2`)).body;
    expect((paged.versions as VersionRecord[]).map((v) => v.version)).toEqual([3, 4]);
    const rest = (await call(replicaB, "GET", `${entryUrl("watch-demo", "prod")}/watch?sinceVersion=${paged.nextSinceVersion as number}`)).body;
    expect((rest.versions as VersionRecord[]).map((v) => v.version)).toEqual([5, 6, 7]);
  });

  it("sees every version in order when a watcher keeps polling while writers race", async () => {
    const seen: number[] = [];
    let since = 7;
    const watcher = (async () => {
      while (since < 17) {
        const body = (await call(replicaA, "GET", `${entryUrl("watch-demo", "prod")}/watch?sinceVersion=${since}&wait=20s&limit=3`)).body;
        for (const v of body.versions as VersionRecord[]) seen.push(v.version);
        since = body.nextSinceVersion as number;
      }
    })();
    for (let n = 8; n <= 17; n++) await write(n % 2 ? replicaA : replicaB, "watch-demo", "prod", { n });
    await watcher;
    expect(seen).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17]);
  });

  it("refuses a cursor ahead of the entry's history instead of waiting past the versions up to it", async () => {
    const ahead = await call(replicaA, "GET", `${entryUrl("watch-demo", "prod")}/watch?sinceVersion=40&wait=10s`);
    expect(ahead.status).toBe(409);
    expect(ahead.body.error).toMatchObject({ code: "CURSOR_AHEAD", message: "querystring.sinceVersion: version 40 is ahead of the current version 17; resume from 17" });
    const stream = await call(replicaA, "GET", `${entryUrl("watch-demo", "prod")}/stream`, { headers: { "last-event-id": "40" } });
    expect(stream.status).toBe(409);
    expect((stream.body.error as Json).message).toMatch(/^headers\.last-event-id: version 40 is ahead/);
  });

  it("wakes an effective-document watch when either the base or the environment's entry changes", async () => {
    await createNamespace("effective-demo", { type: "object" });
    await write(replicaA, "effective-demo", "base", { a: 1, b: 1 });
    await write(replicaA, "effective-demo", "prod", { b: 2 });
    const url = (base: number, version: number, wait = "50s") => `${entryUrl("effective-demo", "prod")}/effective/watch?baseVersion=${base}&version=${version}&wait=${wait}`;

    const first = replicaA.inject({ method: "GET", url: url(1, 1) });
    await expect.poll(() => watchesWaiting(replicaA)).toBe(2);
    await write(replicaB, "effective-demo", "base", { a: 5, b: 1 });
    expect((await first).json()).toEqual({
      outcome: "changed",
      baseVersion: 2,
      version: 1,
      effective: { namespace: "effective-demo", environment: "prod", document: { a: 5, b: 2 }, baseVersion: 2, version: 1 },
    });

    const second = replicaA.inject({ method: "GET", url: url(2, 1) });
    await expect.poll(() => watchesWaiting(replicaA)).toBe(2);
    await write(replicaB, "effective-demo", "prod", { b: 3 });
    expect((await second).json()).toMatchObject({ outcome: "changed", baseVersion: 2, version: 2, effective: { document: { a: 5, b: 3 } } });

    expect((await call(replicaA, "GET", url(2, 2, "200ms"))).body).toEqual({ outcome: "timeout", baseVersion: 2, version: 2 });
    const ahead = await call(replicaA, "GET", url(9, 2));
    expect(ahead.status).toBe(409);
    expect((ahead.body.error as Json).message).toMatch(/^querystring\.baseVersion: version 9 is ahead of the current version 2/);
  });

  it("answers an empty result when nothing changes within the wait", async () => {
    const quiet = await call(replicaA, "GET", `${entryUrl("watch-demo", "prod")}/watch?sinceVersion=17&wait=300ms`);
    expect(quiet.body).toEqual({ versions: [], nextSinceVersion: 17, outcome: "timeout" });
  });
});

describe("server-sent events", () => {
  it("streams every version after the start, then new ones from any replica, and resumes from Last-Event-ID", async () => {
    await createNamespace("stream-demo", { type: "object" });
    for (const n of [1, 2]) await write(replicaA, "stream-demo", "prod", { n });
    const base = await replicaA.listen({ port: 0, host: "127.0.0.1" });
    const url = `${base}${entryUrl("stream-demo", "prod")}/stream`;
    const stream = await readEventStream(`${url}?sinceVersion=0`);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    await expect.poll(() => stream.events.length).toBe(2);
    for (const n of [3, 4]) await write(replicaB, "stream-demo", "prod", { n });
    await expect.poll(() => stream.events.length).toBe(4);
    expect(stream.events.map((e) => [e.event, e.id, (JSON.parse(e.data) as VersionRecord).document])).toEqual([
      ["version", "1", { n: 1 }],
      ["version", "2", { n: 2 }],
      ["version", "3", { n: 3 }],
      ["version", "4", { n: 4 }],
    ]);
    stream.close();

    // Written while no one listens; the reconnecting client names the last id it saw.
    for (const n of [5, 6]) await write(replicaB, "stream-demo", "prod", { n });
    const resumed = await readEventStream(url, { "last-event-id": "4" });
    await expect.poll(() => resumed.events.map((e) => e.id)).toEqual(["5", "6"]);
    resumed.close();

    const fromNow = await readEventStream(url);
    await write(replicaA, "stream-demo", "prod", { n: 7 });
    await expect.poll(() => fromNow.events.map((e) => e.id)).toEqual(["7"]);
    fromNow.close();
  });
});
