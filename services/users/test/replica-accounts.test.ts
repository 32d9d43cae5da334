import { performance } from "node:perf_hooks";
import { createLogger, type ServiceApp } from "@fundament/kit";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, type UsersDeps } from "../src/app";
import { loadUsersConfig } from "../src/config";
import { ACCOUNT_FEED_APPLICATION } from "../src/domain/account-feed";
import { connectDependencies, type AccountFeedTuning } from "../src/dependencies";
import { BOOT_TIMEOUT_MS, startUsersTestEnvironment, type UsersTestEnvironment } from "./support/users-test-environment";

/**
 * Two replicas of the users service on one database, each with its account cache: what one
 * replica (or plain SQL) changes, the other serves from its next requests, within a bound this
 * file measures and prints. The cache's TTL is its default (300 s), so without the change feed
 * every wait below would run out.
 */
interface Replica {
  app: ServiceApp;
  deps: UsersDeps;
}

/** Generous for two shared cores; what is measured is printed. */
const BOUND_MS = 1000;
/** B reconnects its LISTEN session only after this long, so the test can act while it is deaf. */
const B_RECONNECT_DELAY_MS = 4000;

let env: UsersTestEnvironment;
let a: Replica;
let b: Replica;
let adminToken: string;

async function replica(tuning: AccountFeedTuning): Promise<Replica> {
  const deps = await connectDependencies(loadUsersConfig(env.env()), createLogger({ service: "users", level: "silent" }), tuning);
  return { app: await buildApp(deps), deps };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function me(replica: Replica, token: string): Promise<LightMyRequestResponse> {
  return replica.app.inject({ method: "GET", url: "/me", headers: bearer(token) });
}

async function ready(replica: Replica): Promise<number> {
  return (await replica.app.inject({ method: "GET", url: "/health/ready" })).statusCode;
}

/** Registers an account through A and returns its id and an access token. */
async function account(email: string): Promise<{ id: string; token: string }> {
  const password = "a sturdy passphrase 42";
  const registered = await a.app.inject({ method: "POST", url: "/auth/register", payload: { email, password, displayName: "before" } });
  expect(registered.statusCode, registered.body).toBe(201);
  const login = await a.app.inject({ method: "POST", url: "/auth/login", payload: { email, password } });
  expect(login.statusCode, login.body).toBe(200);
  return { id: registered.json<{ id: string }>().id, token: login.json<{ accessToken: string }>().accessToken };
}

/**
 * Asks `replica` for /me until `seen` holds; returns how long after the call that took, and
 * whether the first request already saw it.
 */
async function timeUntilSeen(replica: Replica, token: string, seen: (response: LightMyRequestResponse) => boolean): Promise<{ ms: number; first: boolean }> {
  const start = performance.now();
  for (let attempt = 0; ; attempt += 1) {
    const response = await me(replica, token);
    const ms = performance.now() - start;
    if (seen(response)) return { ms, first: attempt === 0 };
    if (ms > 5 * BOUND_MS) throw new Error(`not seen after ${ms.toFixed(0)} ms: still ${response.statusCode} ${response.body}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

function summary(samples: Array<{ ms: number; first: boolean }>): string {
  const sorted = samples.map((s) => s.ms).sort((x, y) => x - y);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const firsts = samples.filter((s) => s.first).length;
  return `median ${median.toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms over ${samples.length} changes; the first request saw it in ${firsts}/${samples.length}`;
}

const rolesOf = (response: LightMyRequestResponse): string[] => (response.statusCode === 200 ? response.json<{ roles: string[] }>().roles : []);

beforeAll(async () => {
  env = await startUsersTestEnvironment("replicaaccounts");
  a = await replica({});
  b = await replica({ reconnectDelayMs: B_RECONNECT_DELAY_MS });
  const admin = await account("admin@example.com");
  env.sql(`update users set roles = '{admin,user}' where id = '${admin.id}'`);
  const login = await a.app.inject({ method: "POST", url: "/auth/login", payload: { email: "admin@example.com", password: "a sturdy passphrase 42" } });
  adminToken = login.json<{ accessToken: string }>().accessToken;
}, BOOT_TIMEOUT_MS);

afterAll(async () => {
  await a?.app.close();
  await b?.app.close();
  await env?.destroy();
});

describe("the account cache across replicas", () => {
  it("a role change through replica A is served by replica B within the bound", async () => {
    const user = await account("roles@example.com");
    const samples: Array<{ ms: number; first: boolean }> = [];
    for (let round = 0; round < 20; round += 1) {
      const roles = round % 2 === 0 ? ["editor", "user"] : ["user"];
      // B holds the account as it is now, so only the feed can make it drop the copy.
      expect(rolesOf(await me(b, user.token))).toEqual(round % 2 === 0 ? ["user"] : ["editor", "user"]);
      expect(rolesOf(await me(b, user.token))).toEqual(round % 2 === 0 ? ["user"] : ["editor", "user"]);
      const changed = await a.app.inject({ method: "PUT", url: `/users/${user.id}/roles`, headers: bearer(adminToken), payload: { roles } });
      expect(changed.statusCode, changed.body).toBe(200);
      samples.push(await timeUntilSeen(b, user.token, (response) => JSON.stringify(rolesOf(response)) === JSON.stringify(roles)));
    }
    console.log(`role change through A, seen by B: ${summary(samples)}`);
    expect(Math.max(...samples.map((s) => s.ms))).toBeLessThan(BOUND_MS);
  });

  it("an account disabled through replica A is refused by replica B within the bound", async () => {
    const user = await account("disabled@example.com");
    expect((await me(b, user.token)).statusCode).toBe(200);
    const disabled = await a.app.inject({ method: "POST", url: `/users/${user.id}/disable`, headers: bearer(adminToken) });
    expect(disabled.statusCode, disabled.body).toBe(200);
    const seen = await timeUntilSeen(b, user.token, (response) => response.statusCode === 403);
    console.log(`disable through A, refused by B after ${seen.ms.toFixed(1)} ms (first request: ${seen.first})`);
    expect(seen.ms).toBeLessThan(BOUND_MS);
    expect((await me(b, user.token)).json<{ error: { code: string } }>().error.code).toBe("ACCOUNT_DISABLED");
  });

  it("a change made with plain SQL, outside the service, is served by both replicas within the bound", async () => {
    const user = await account("sql@example.com");
    const samples: Array<{ ms: number; first: boolean }> = [];
    for (let round = 0; round < 10; round += 1) {
      for (const replica of [a, b]) expect((await me(replica, user.token)).statusCode).toBe(200);
      const email = `sql-${round}@example.com`;
      env.sql(`update users set email = '${email}' where id = '${user.id}'`);
      for (const replica of [a, b]) samples.push(await timeUntilSeen(replica, user.token, (response) => response.json<{ email: string }>().email === email));
    }
    console.log(`SQL update (psql returned), seen by each replica: ${summary(samples)}`);
    expect(Math.max(...samples.map((s) => s.ms))).toBeLessThan(BOUND_MS);
  });

  it("a replica reads its own writes at once, before any notification", async () => {
    const user = await account("own@example.com");
    // With the trigger off no NOTIFY is sent: only the writing replica's own bookkeeping is left.
    env.sql("alter table users disable trigger users_changed_on_update");
    try {
      for (let round = 0; round < 5; round += 1) {
        const roles = round % 2 === 0 ? ["reviewer", "user"] : ["user"];
        expect((await me(b, user.token)).statusCode).toBe(200);
        const changed = await b.app.inject({ method: "PUT", url: `/users/${user.id}/roles`, headers: bearer(adminToken), payload: { roles } });
        expect(changed.statusCode, changed.body).toBe(200);
        expect(rolesOf(await me(b, user.token))).toEqual(roles);
      }
    } finally {
      env.sql("alter table users enable trigger users_changed_on_update");
    }
  });

  it("when B's LISTEN session is killed, B flushes its cache, is not ready, reads PostgreSQL meanwhile, and serves nothing stale after it listens again", async () => {
    const user = await account("deaf@example.com");
    const displayName = async () => (await me(b, user.token)).json<{ displayName: string }>().displayName;
    expect(await displayName()).toBe("before");
    expect(b.deps.accountFeed.cache.size).toBeGreaterThan(0);
    expect(await ready(b)).toBe(200);

    const killed = env.pg.psql(`select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = '${ACCOUNT_FEED_APPLICATION}'`);
    expect(Number(killed)).toBe(2);
    const deafSince = performance.now();
    await expect.poll(() => ready(b), { timeout: 5000, interval: 20 }).toBe(503);
    const notReady = await b.app.inject({ method: "GET", url: "/health/ready" });
    expect(notReady.json<{ error: { details: { failed: string[] } } }>().error.details.failed).toContain("account-feed");
    expect(b.deps.accountFeed.cache.size).toBe(0);

    // Changes while B is deaf: their notifications never reach it.
    env.sql(`update users set display_name = 'while deaf' where id = '${user.id}'`);
    expect(await displayName()).toBe("while deaf");
    // Changed again and not read: a copy of 'while deaf' kept from the deaf stretch would be stale.
    env.sql(`update users set display_name = 'unread' where id = '${user.id}'`);
    // The checks above only mean something if B was deaf throughout them.
    expect(await ready(b)).toBe(503);
    expect(performance.now() - deafSince).toBeLessThan(B_RECONNECT_DELAY_MS);

    await expect.poll(() => ready(b), { timeout: 20_000, interval: 50 }).toBe(200);
    console.log(`B was not ready for ${(performance.now() - deafSince).toFixed(0)} ms (reconnect delay ${B_RECONNECT_DELAY_MS} ms)`);
    expect(await displayName()).toBe("unread");
    expect(await displayName()).toBe("unread");
    // Listening again: a change is heard as before.
    env.sql(`update users set display_name = 'after' where id = '${user.id}'`);
    const seen = await timeUntilSeen(b, user.token, (response) => response.json<{ displayName: string }>().displayName === "after");
    expect(seen.ms).toBeLessThan(BOUND_MS);
    // A was killed too; it reconnects on its default delay and is ready again.
    await expect.poll(() => ready(a), { timeout: 20_000, interval: 50 }).toBe(200);
  });
});
