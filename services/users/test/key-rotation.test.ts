import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createJwksVerifier, createLogger, startServer, type JwksVerifier, type RunningServer, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, type UsersDeps } from "../src/app";
import { loadUsersConfig } from "../src/config";
import { connectDependencies, keyFileReload } from "../src/dependencies";
import { loadJose } from "../src/domain/jose-module";
import { createTestCa, type TestCa } from "../../../scripts/local-servers/test-pki";
import { BOOT_TIMEOUT_MS, startUsersTestEnvironment, type UsersTestEnvironment } from "./support/users-test-environment";

/**
 * A rotation as the stack delivers it (fundament:tokenSigning): replica A still runs the files of
 * generation 1 (signs with g1, publishes g2 ahead), replica B those of generation 2 (signs with g2,
 * accepts g1, publishes g3). Then an emergency retirement rewrites B's files in place, and B's key
 * reload must refuse the retired keys' tokens from its next request on, and so must the verifier
 * config and gpu-jobs run (the kit's, watching B's JWKS over TLS), long before its 60 s key-set age.
 */
interface Replica {
  app: ServiceApp;
  deps: UsersDeps;
}

/** How often the replicas read their key files here (60 s in production). */
const RELOAD_MS = 100;
/** Generous for two shared cores; what is measured is printed. */
const BOUND_MS = 3000;

const keyPair = () => generateKeyPairSync("ed25519");
const privatePem = (key: KeyObject) => key.export({ format: "pem", type: "pkcs8" }).toString();
const publicPem = (key: KeyObject) => key.export({ format: "pem", type: "spki" }).toString();

let env: UsersTestEnvironment;
let a: Replica;
let b: Replica;
/** B served over HTTPS under a test CA's leaf, as the stacks serve it to config and gpu-jobs. */
let ca: TestCa;
let servedB: RunningServer;
let watching: JwksVerifier;
const watchProblems: string[] = [];
const g1 = keyPair();
const g2 = keyPair();
const g3 = keyPair();
const g4 = keyPair();

/** Writes a replica's key files and returns the variables naming them. */
function keyFiles(replica: string, files: { signing: string; previous?: string; next: string }): Record<string, string> {
  const path = (name: string) => join(env.secretsDir, `${replica}-${name}.pem`);
  // The signing key last: a reload between the writes then still sees the old signer, so the
  // moment the old signer's tokens are refused, every file is the new one.
  writeFileSync(path("previous"), files.previous ?? "", { mode: 0o600 });
  writeFileSync(path("next"), files.next, { mode: 0o600 });
  writeFileSync(path("signing"), files.signing, { mode: 0o600 });
  return { JWT_SIGNING_KEY_FILE: path("signing"), JWT_PREVIOUS_PUBLIC_KEYS_FILE: path("previous"), JWT_NEXT_PUBLIC_KEYS_FILE: path("next") };
}

async function replica(variables: Record<string, string>): Promise<Replica> {
  const source = env.env(variables);
  const deps = await connectDependencies(loadUsersConfig(source), createLogger({ service: "users", level: "silent" }));
  deps.keyReload = keyFileReload(source, RELOAD_MS);
  return { app: await buildApp(deps), deps };
}

async function login(replica: Replica, email: string): Promise<string> {
  const response = await replica.app.inject({ method: "POST", url: "/auth/login", payload: { email, password: "a sturdy passphrase 42" } });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ accessToken: string }>().accessToken;
}

const meStatus = async (replica: Replica, token: string) => (await replica.app.inject({ method: "GET", url: "/me", headers: { authorization: `Bearer ${token}` } })).statusCode;

async function kidOf(token: string): Promise<string | undefined> {
  const { decodeProtectedHeader } = await loadJose();
  return decodeProtectedHeader(token).kid;
}

beforeAll(async () => {
  env = await startUsersTestEnvironment("key-rotation");
  a = await replica(keyFiles("a", { signing: privatePem(g1.privateKey), next: publicPem(g2.publicKey) }));
  b = await replica(keyFiles("b", { signing: privatePem(g2.privateKey), previous: publicPem(g1.publicKey), next: publicPem(g3.publicKey) }));
  ca = createTestCa("key-rotation test CA");
  const leaf = ca.leaf("users", ["users"]);
  servedB = await startServer(b.app, { port: 0, host: "127.0.0.1", probePeriodMs: 0, tls: { cert: leaf.certPem, key: leaf.keyPem } });
  watching = await createJwksVerifier({
    // The leaf's name in the URL, the loopback address dialled: discovery hands out addresses the same way.
    jwksUrl: `https://users:${new URL(servedB.url).port}/.well-known/jwks.json`,
    resolveJwksUrl: async () => `${servedB.url}/.well-known/jwks.json`,
    ca: ca.caPem,
    cacheMaxAgeMs: 60_000,
    watchSeconds: 25,
    onWatchProblem: (message) => watchProblems.push(message),
  });
  const registered = await a.app.inject({ method: "POST", url: "/auth/register", payload: { email: "rotor@example.com", password: "a sturdy passphrase 42", displayName: "rotor" } });
  expect(registered.statusCode, registered.body).toBe(201);
}, BOOT_TIMEOUT_MS);

afterAll(async () => {
  await watching?.close();
  await Promise.allSettled([a?.app.close(), servedB ? servedB.shutdown("test done") : b?.app.close()]);
  ca?.remove();
  await env?.destroy();
});

describe("signing-key rotation across replicas", () => {
  it("publishes the next key before it signs, and old and new replicas accept each other's tokens", async () => {
    const fromA = await login(a, "rotor@example.com");
    const fromB = await login(b, "rotor@example.com");
    const published = (await a.app.inject({ method: "GET", url: "/.well-known/jwks.json" })).json<{ keys: { kid: string }[] }>().keys.map((key) => key.kid);
    // What config and gpu-jobs fetch from A already names the key B signs with.
    expect(published).toContain(await kidOf(fromB));
    expect(await kidOf(fromA)).not.toBe(await kidOf(fromB));
    expect(await meStatus(a, fromB)).toBe(200);
    expect(await meStatus(b, fromA)).toBe(200);
  });

  it("refuses the retired keys' tokens from the first request after it reads the rewritten files, remembered or not, and so does a watching verifier", async () => {
    const fromA = await login(a, "rotor@example.com");
    const fromB = await login(b, "rotor@example.com");
    // Both verified (and remembered) by B before the retirement, and by the watching verifier.
    expect(await meStatus(b, fromA)).toBe(200);
    expect(await meStatus(b, fromB)).toBe(200);
    expect(await watching.verify(fromB)).toMatchObject({ roles: expect.any(Array) });
    expect(watching.watching, watchProblems.join("; ")).toBe(true);
    const before = await b.app.inject({ method: "GET", url: "/.well-known/jwks.json" });
    const etag = before.headers.etag as string;
    const held = b.app.inject({ method: "GET", url: "/.well-known/jwks.json?wait=20s", headers: { "if-none-match": etag } });
    // Generation 3 with acceptPrevious false: g1 and g2 are no longer accepted.
    keyFiles("b", { signing: privatePem(g3.privateKey), next: publicPem(g4.publicKey) });
    const started = performance.now();
    while ((await meStatus(b, fromB)) === 200) {
      expect(performance.now() - started, "B still accepts a retired key's token").toBeLessThan(BOUND_MS);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const usersRefused = performance.now() - started;
    const verifierRefusal = async () => watching.verify(fromB).then(() => undefined, (error: Error) => error);
    let refusal: Error | undefined;
    while ((refusal = await verifierRefusal()) === undefined) {
      // Its key set is 60 s old at most: without the watch this loop would run out.
      expect(performance.now() - started, "the watching verifier still accepts a retired key's token").toBeLessThan(BOUND_MS);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log(
      `retired key refused ${Math.round(usersRefused)} ms after the files changed by users (reload every ${RELOAD_MS} ms), ` +
        `${Math.round(performance.now() - started)} ms by the verifier watching its JWKS`,
    );
    expect(refusal.name).toBe("TokenRejectedError");
    expect(await meStatus(b, fromB)).toBe(401);
    expect(await meStatus(b, fromA)).toBe(401);
    await expect(watching.verify(fromA)).rejects.toThrow(/no applicable key|matching key/i);
    // The held poll woke with the new document, under a new tag.
    const woke = await held;
    expect(woke.statusCode).toBe(200);
    expect(woke.headers.etag).not.toBe(etag);
    const published = woke.json<{ keys: { kid: string }[] }>().keys.map((key) => key.kid);
    expect(published).not.toContain(await kidOf(fromB));
    expect(published).not.toContain(await kidOf(fromA));
    const fresh = await login(b, "rotor@example.com");
    expect(await kidOf(fresh)).not.toBe(await kidOf(fromB));
    expect(await meStatus(b, fresh)).toBe(200);
    expect(await watching.verify(fresh)).toMatchObject({ roles: expect.any(Array) });
    expect(watchProblems).toEqual([]);
  });
});

describe("the JWKS watch config and gpu-jobs hold", () => {
  const jwksOf = (replica: Replica, url = "/.well-known/jwks.json", headers: Record<string, string> = {}) => replica.app.inject({ method: "GET", url, headers });

  it("tags the document, answers a matching If-None-Match with 304, and names a bad wait", async () => {
    const first = await jwksOf(a);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    // A retired key must leave every copy at its next fetch.
    expect(first.headers["cache-control"]).toBe("no-cache");
    expect((await jwksOf(a, "/.well-known/jwks.json", { "if-none-match": etag })).statusCode).toBe(304);
    expect((await jwksOf(a, "/.well-known/jwks.json", { "if-none-match": `"other", W/${etag}` })).statusCode).toBe(304);
    const stale = await jwksOf(a, "/.well-known/jwks.json", { "if-none-match": '"an-older-set"' });
    expect(stale.statusCode).toBe(200);
    expect(stale.json<{ keys: unknown[] }>().keys.length).toBeGreaterThan(0);
    const unreadable = await jwksOf(a, "/.well-known/jwks.json?wait=soon", { "if-none-match": etag });
    expect(unreadable.statusCode).toBe(400);
    expect(unreadable.json<{ error: { message: string } }>().error.message).toMatch(/querystring.*wait/);
    const tooLong = await jwksOf(a, "/.well-known/jwks.json?wait=120s", { "if-none-match": etag });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json<{ error: { message: string } }>().error.message).toContain("at most 55s (got 120s)");
  });

  it("holds a watch whose tag is current until the wait ends, and answers an outdated tag at once", async () => {
    const etag = (await jwksOf(a)).headers.etag as string;
    const started = performance.now();
    const unchanged = await jwksOf(a, "/.well-known/jwks.json?wait=400ms", { "if-none-match": etag });
    expect(unchanged.statusCode).toBe(304);
    expect(performance.now() - started).toBeGreaterThanOrEqual(350);
    const outdated = performance.now();
    expect((await jwksOf(a, "/.well-known/jwks.json?wait=30s", { "if-none-match": '"an-older-set"' })).statusCode).toBe(200);
    expect(performance.now() - outdated).toBeLessThan(5000);
  });

  it("answers held watches at once when the app closes, instead of holding the shutdown for their wait", async () => {
    const c = await replica(keyFiles("c", { signing: privatePem(g1.privateKey), next: publicPem(g2.publicKey) }));
    const etag = (await jwksOf(c)).headers.etag as string;
    const held = [jwksOf(c, "/.well-known/jwks.json?wait=50s", { "if-none-match": etag }), jwksOf(c, "/.well-known/jwks.json?wait=50s", { "if-none-match": etag })];
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    await c.app.close();
    const answers = await Promise.all(held);
    expect(answers.map((answer) => answer.statusCode)).toEqual([304, 304]);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
