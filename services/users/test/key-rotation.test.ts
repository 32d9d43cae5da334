import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp, type UsersDeps } from "../src/app";
import { loadUsersConfig } from "../src/config";
import { connectDependencies, keyFileReload } from "../src/dependencies";
import { loadJose } from "../src/domain/jose-module";
import { BOOT_TIMEOUT_MS, startUsersTestEnvironment, type UsersTestEnvironment } from "./support/users-test-environment";

/**
 * A rotation as the stack delivers it (fundament:tokenSigning): replica A still runs the files of
 * generation 1 (signs with g1, publishes g2 ahead), replica B those of generation 2 (signs with g2,
 * accepts g1, publishes g3). Then an emergency retirement rewrites B's files in place, and B's key
 * reload must refuse the retired keys' tokens from its next request on.
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
  const registered = await a.app.inject({ method: "POST", url: "/auth/register", payload: { email: "rotor@example.com", password: "a sturdy passphrase 42", displayName: "rotor" } });
  expect(registered.statusCode, registered.body).toBe(201);
}, BOOT_TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled([a?.app.close(), b?.app.close()]);
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

  it("refuses the retired keys' tokens from the first request after it reads the rewritten files, remembered or not", async () => {
    const fromA = await login(a, "rotor@example.com");
    const fromB = await login(b, "rotor@example.com");
    // Both verified (and remembered) by B before the retirement.
    expect(await meStatus(b, fromA)).toBe(200);
    expect(await meStatus(b, fromB)).toBe(200);
    // Generation 3 with acceptPrevious false: g1 and g2 are no longer accepted.
    keyFiles("b", { signing: privatePem(g3.privateKey), next: publicPem(g4.publicKey) });
    const started = performance.now();
    while ((await meStatus(b, fromB)) === 200) {
      expect(performance.now() - started, "B still accepts a retired key's token").toBeLessThan(BOUND_MS);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    console.log(`retired key refused ${Math.round(performance.now() - started)} ms after the files changed (reload every ${RELOAD_MS} ms)`);
    expect(await meStatus(b, fromB)).toBe(401);
    expect(await meStatus(b, fromA)).toBe(401);
    const fresh = await login(b, "rotor@example.com");
    expect(await kidOf(fresh)).not.toBe(await kidOf(fromB));
    expect(await meStatus(b, fresh)).toBe(200);
  });
});
