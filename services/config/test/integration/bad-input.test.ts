import fc from "fast-check";
import { createJwksVerifier, createPgPool, createRedis, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { listenConnection, PostgresChangeFeed } from "../../src/change-feed";
import { AUDIENCE, ISSUER, quietLogger, startConfigServers, type ConfigServers } from "./config-servers";

let servers: ConfigServers;
let app: ServiceApp;
let token: string;

type Json = Record<string, unknown>;
interface Probe {
  method: "GET" | "PUT" | "POST";
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
}

const NAMESPACE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const ENVIRONMENT = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Encoded so a generated "/" or "." stays inside its path segment instead of changing the route. */
const segment = (value: string) => encodeURIComponent(value).replace(/\./g, "%2E");

const badNamespace = fc.string({ minLength: 1, maxLength: 80, unit: "binary" }).filter((s) => !NAMESPACE.test(s));
const badEnvironment = fc.string({ minLength: 1, maxLength: 80, unit: "binary" }).filter((s) => !ENVIRONMENT.test(s));
/** Path and query integers must be plain decimals in range: "0x10", "1e3" or " " are refused, not coerced. */
const coercesToVersion = (text: string, min: number) => /^-?(0|[1-9][0-9]*)$/.test(text) && Number(text) >= min && Number(text) <= 2147483647;
const badNumber = (min: number) =>
  fc
    .oneof(fc.constantFrom("0", "-1", "2147483648", "99999999999999", "1.5", "1e3", "0x10", " ", " 7", "+1", "007", "abc", "%20", "true", "NaN"), fc.string({ minLength: 1, maxLength: 12 }))
    .filter((text) => !coercesToVersion(text, min));
const badVersion = badNumber(1);
/** Values no coercion turns into a valid object: scalars and arrays of two or more. */
const notAnObject = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { minLength: 2, maxLength: 3 }));
/** Values no coercion turns into a 1..1000 character string. */
const badReason = fc.oneof(fc.constant(""), fc.string({ minLength: 1001, maxLength: 1100 }), fc.dictionary(fc.string(), fc.integer(), { minKeys: 0, maxKeys: 2 }), fc.constant(null));
const badIfMatch = fc.string({ minLength: 1, maxLength: 20, unit: fc.constantFrom(..."abcXYZ-_ /\"W0123456789.") }).filter((s) => !/^(W\/)?"?[0-9]{1,9}"?$/.test(s));
const extraKey = fc.string({ minLength: 1, maxLength: 10, unit: fc.constantFrom(..."abcdefxyz_") }).filter((k) => !["document", "reason", "schema", "toVersion"].includes(k));

async function send(probe: Probe) {
  const response = await app.inject({
    method: probe.method,
    url: probe.url,
    headers: { authorization: `Bearer ${token}`, ...probe.headers },
    ...(probe.body === undefined ? {} : { payload: JSON.stringify(probe.body), headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...probe.headers } }),
  });
  return { status: response.statusCode, body: response.json() as { error?: { message?: string; code?: string } } };
}

/** Every generated probe gets a 4xx whose message starts with the field it broke, never a 5xx. */
async function expectRefused(probes: fc.Arbitrary<[Probe, string]>, numRuns = 60): Promise<void> {
  await fc.assert(
    fc.asyncProperty(probes, async ([probe, field]) => {
      const { status, body } = await send(probe);
      expect(status, `${probe.method} ${probe.url} ${JSON.stringify(probe.body)}`).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
      expect(body.error?.message, `${probe.method} ${probe.url}`).toMatch(new RegExp(`^${field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    }),
    { numRuns },
  );
}

const entry = (ns = "app", env = "base") => `/namespaces/${segment(ns)}/environments/${segment(env)}`;
const validWrite = { document: { n: 1 }, reason: "fuzz" };

beforeAll(async () => {
  servers = await startConfigServers({ rabbit: false });
  const logger = quietLogger();
  const pool = createPgPool({ url: servers.databaseUrl, password: servers.databasePassword, ca: servers.databaseCa, applicationName: "config-bad-input" });
  const changeFeed = await PostgresChangeFeed.start({
    connection: listenConnection(servers.databaseUrl, servers.databasePassword, servers.databaseCa),
    logger,
  });
  app = await buildApp({
    logger,
    pool,
    redis: createRedis({ url: servers.redisUrl, tls: servers.redisTls, connectionName: "config-bad-input" }),
    changeFeed,
    verifier: await createJwksVerifier({ jwksUrl: servers.jwks.url, issuer: ISSUER, audience: AUDIENCE }),
    watch: { defaultWaitMs: 100, maxWaitMs: 2000 },
  });
  token = await servers.jwks.sign({ sub: "fuzzer", roles: ["config:write"] });
  expect((await send({ method: "PUT", url: "/namespaces/app", body: { schema: { type: "object" } } })).status).toBe(201);
  expect((await send({ method: "PUT", url: entry(), body: validWrite })).status).toBe(201);
});

afterAll(async () => {
  await app?.close();
  await servers?.stop();
});

describe("bad input gets a 4xx naming the field", () => {
  it("namespace routes: params and bodies", async () => {
    await expectRefused(badNamespace.map((ns) => [{ method: "GET", url: `/namespaces/${segment(ns)}` }, "params.namespace"]));
    await expectRefused(badNamespace.map((ns) => [{ method: "PUT", url: `/namespaces/${segment(ns)}`, body: { schema: {} } }, "params.namespace"]));
    await expectRefused(notAnObject.map((body) => [{ method: "PUT", url: "/namespaces/app", body }, "body"]));
    await expectRefused(notAnObject.map((schema) => [{ method: "PUT", url: "/namespaces/app", body: { schema } }, "body.schema"]));
    await expectRefused(extraKey.map((key) => [{ method: "PUT", url: "/namespaces/app", body: { schema: {}, [key]: 1 } }, `body.${key}`]));
    // Objects that are not JSON Schemas: the schema compiler's complaint is passed on under body.schema.
    await expectRefused(
      fc
        .constantFrom<Json>({ type: "no-such-type" }, { type: 5 }, { properties: [] }, { required: "x" }, { minimum: "a" }, { $ref: "#/nowhere" }, { pattern: "(" })
        .map((schema) => [{ method: "PUT", url: "/namespaces/app", body: { schema } }, "body.schema"]),
      20,
    );
  });

  it("entry routes: params, bodies and If-Match", async () => {
    for (const suffix of ["", "/effective", "/versions"]) {
      await expectRefused(badNamespace.map((ns) => [{ method: "GET", url: `${entry(ns)}${suffix}` }, "params.namespace"]), 30);
      await expectRefused(badEnvironment.map((env) => [{ method: "GET", url: `${entry("app", env)}${suffix}` }, "params.environment"]), 30);
    }
    await expectRefused(badEnvironment.map((env) => [{ method: "PUT", url: entry("app", env), body: validWrite }, "params.environment"]));
    await expectRefused(notAnObject.map((body) => [{ method: "PUT", url: entry(), body }, "body"]));
    await expectRefused(notAnObject.map((document) => [{ method: "PUT", url: entry(), body: { ...validWrite, document } }, "body.document"]));
    await expectRefused(badReason.map((reason) => [{ method: "PUT", url: entry(), body: { ...validWrite, reason } }, "body.reason"]));
    await expectRefused(fc.constantFrom("document", "reason").map((key) => [{ method: "PUT", url: entry(), body: { ...validWrite, [key]: undefined } }, `body.${key}`]), 10);
    await expectRefused(extraKey.map((key) => [{ method: "PUT", url: entry(), body: { ...validWrite, [key]: true } }, `body.${key}`]));
    await expectRefused(badIfMatch.map((value) => [{ method: "PUT", url: entry(), body: validWrite, headers: { "if-match": value } }, "headers.if-match"]));
  });

  it("entry reads: the version the caller already knows of", async () => {
    const reads: [string, string[]][] = [
      ["", ["minVersion"]],
      ["/effective", ["minVersion", "minBaseVersion"]],
    ];
    for (const [suffix, fields] of reads) {
      for (const field of fields) {
        await expectRefused(badVersion.map((value) => [{ method: "GET", url: `${entry()}${suffix}?${new URLSearchParams({ [field]: value })}` }, `querystring.${field}`]), 30);
      }
      await expectRefused(extraKey.filter((key) => !fields.includes(key)).map((key) => [{ method: "GET", url: `${entry()}${suffix}?${key}=1` }, `querystring.${key}`]), 30);
    }
  });

  it("version routes: params, query strings and rollback bodies", async () => {
    await expectRefused(badVersion.map((v) => [{ method: "GET", url: `${entry()}/versions/${segment(v)}` }, "params.version"]));
    await expectRefused(badNumber(0).map((value) => [{ method: "GET", url: `${entry()}/versions?${new URLSearchParams({ after: value })}` }, "querystring.after"]));
    await expectRefused(
      fc.oneof(badNumber(1), fc.integer({ min: 501, max: 1_000_000 }).map(String)).map((value) => [
        { method: "GET", url: `${entry()}/versions?${new URLSearchParams({ limit: value })}` },
        "querystring.limit",
      ]),
    );
    await expectRefused(extraKey.map((key) => [{ method: "GET", url: `${entry()}/versions?${key}=1` }, `querystring.${key}`]));
    // Bodies are JSON: a number that is not a version, or something Ajv cannot coerce into one.
    const badToVersion = fc.oneof(
      fc.double({ noInteger: true, noNaN: true }),
      fc.integer({ max: 0 }),
      fc.double({ min: 2147483648, max: 1e15, noNaN: true }).map(Math.floor),
      fc.constantFrom<unknown>("abc", "", "1.5x", null),
      fc.array(fc.integer(), { minLength: 2, maxLength: 3 }),
      fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }),
    );
    await expectRefused(badToVersion.map((toVersion) => [{ method: "POST", url: `${entry()}/rollback`, body: { toVersion, reason: "r" } }, "body.toVersion"]));
    await expectRefused(badReason.map((reason) => [{ method: "POST", url: `${entry()}/rollback`, body: { toVersion: 1, reason } }, "body.reason"]));
    await expectRefused(badIfMatch.map((value) => [{ method: "POST", url: `${entry()}/rollback`, body: { toVersion: 1, reason: "r" }, headers: { "if-match": value } }, "headers.if-match"]));
  });

  it("watch: query strings", async () => {
    const watch = (query: Record<string, string>) => `${entry()}/watch?${new URLSearchParams(query)}`;
    await expectRefused(fc.constant<[Probe, string]>([{ method: "GET", url: watch({}) }, "querystring.sinceVersion"]), 1);
    await expectRefused(badNumber(0).map((v) => [{ method: "GET", url: watch({ sinceVersion: v }) }, "querystring.sinceVersion"]));
    await expectRefused(
      fc.string({ minLength: 1, maxLength: 12 }).filter((w) => !/^[0-9]{1,6}(ms|s)?$/.test(w)).map((wait) => [{ method: "GET", url: watch({ sinceVersion: "0", wait }) }, "querystring.wait"]),
    );
    await expectRefused(fc.integer({ min: 3, max: 999_999 }).map((seconds) => [{ method: "GET", url: watch({ sinceVersion: "0", wait: `${seconds}s` }) }, "querystring.wait"]));
    await expectRefused(extraKey.map((key) => [{ method: "GET", url: `${watch({ sinceVersion: "0" })}&${key}=1` }, `querystring.${key}`]));
  });

  it("effective watch: query strings", async () => {
    const watch = (query: Record<string, string>) => `${entry()}/effective/watch?${new URLSearchParams(query)}`;
    await expectRefused(fc.constant<[Probe, string]>([{ method: "GET", url: watch({ version: "0" }) }, "querystring.baseVersion"]), 1);
    await expectRefused(badNumber(0).map((v) => [{ method: "GET", url: watch({ baseVersion: v, version: "0" }) }, "querystring.baseVersion"]));
    await expectRefused(badNumber(0).map((v) => [{ method: "GET", url: watch({ baseVersion: "0", version: v }) }, "querystring.version"]));
    await expectRefused(fc.integer({ min: 3, max: 999_999 }).map((seconds) => [{ method: "GET", url: watch({ baseVersion: "0", version: "0", wait: `${seconds}s` }) }, "querystring.wait"]));
  });

  it("event stream: params, query string and Last-Event-ID", async () => {
    const stream = `${entry()}/stream`;
    await expectRefused(badEnvironment.map((env) => [{ method: "GET", url: `${entry("app", env)}/stream` }, "params.environment"]), 30);
    await expectRefused(badNumber(0).map((v) => [{ method: "GET", url: `${stream}?${new URLSearchParams({ sinceVersion: v })}` }, "querystring.sinceVersion"]));
    await expectRefused(
      fc.string({ minLength: 1, maxLength: 14, unit: fc.constantFrom(..."0123456789abc -") }).filter((v) => !/^[0-9]{1,10}$/.test(v)).map((v) => [
        { method: "GET", url: stream, headers: { "last-event-id": v } },
        "headers.last-event-id",
      ]),
    );
  });

  it("keeps serving afterwards", async () => {
    const ready = await app.inject({ method: "GET", url: "/health/ready" });
    expect(ready.statusCode).toBe(200);
    const written = await send({ method: "PUT", url: entry(), body: { document: { n: 2 }, reason: "still here" } });
    expect(written.status).toBe(201);
    const current = await send({ method: "GET", url: entry() });
    expect(current.body).toMatchObject({ document: { n: 2 } });
  });
});
