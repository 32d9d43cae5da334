import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as argon2 from "argon2";
import { closeRedis, createRedis, createLogger, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SERVICE_LONG_POLLS } from "../../../components/services/long-poll-routes";
import { buildApp } from "../src/app";
import { loadUsersConfig } from "../src/config";
import { connectDependencies } from "../src/dependencies";
import { loadJose } from "../src/domain/jose-module";
import { waitFor } from "../../../scripts/local-servers/free-port";
import { BOOT_TIMEOUT_MS, startUsersTestEnvironment, type UsersTestEnvironment } from "./support/users-test-environment";

let env: UsersTestEnvironment;
let app: ServiceApp;
const ADMIN = { email: "root@example.com", password: "bootstrap-admin-passphrase-91" };
const logLines: string[] = [];

beforeAll(async () => {
  env = await startUsersTestEnvironment("journey");
  const adminPasswordFile = join(env.secretsDir, "bootstrap-admin");
  writeFileSync(adminPasswordFile, ADMIN.password, { mode: 0o600 });
  const config = loadUsersConfig(
    env.env({
      BOOTSTRAP_ADMIN_EMAIL: ADMIN.email,
      BOOTSTRAP_ADMIN_PASSWORD_FILE: adminPasswordFile,
      LOGIN_RATE_LIMIT_WINDOW_SECONDS: "3",
      LOGIN_RATE_LIMIT_ACCOUNT_MAX: "3",
      LOGIN_RATE_LIMIT_IP_MAX: "8",
    }),
  );
  const logger = createLogger({ service: "users", level: "info", destination: { write: (line: string) => void logLines.push(line) } });
  app = await buildApp(await connectDependencies(config, logger));
}, BOOT_TIMEOUT_MS);
afterAll(async () => {
  await app?.close();
  await env?.destroy();
});

let addressCounter = 0;
/** Each scenario logs in from its own address, so the per-address limit belongs to the rate-limit test only. */
function newAddress(): string {
  addressCounter += 1;
  return `10.0.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
}

async function register(email: string, password = "a sturdy passphrase 42") {
  return app.inject({ method: "POST", url: "/auth/register", payload: { email, password, displayName: email.split("@")[0] } });
}

async function login(email: string, password = "a sturdy passphrase 42", remoteAddress = newAddress()) {
  return app.inject({ method: "POST", url: "/auth/login", payload: { email, password }, remoteAddress });
}

async function tokensFor(email: string, password?: string): Promise<{ accessToken: string; refreshToken: string }> {
  const response = await login(email, password);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

/** The variant and cost parameters of a PHC string, in whatever order it lists them. */
function phcParams(phc: string): { variant: string; m: number; t: number; p: number } {
  const [, variant, , params] = phc.split("$");
  const values = Object.fromEntries(params!.split(",").map((pair) => pair.split("=") as [string, string]));
  return { variant: variant!, m: Number(values.m), t: Number(values.t), p: Number(values.p) };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("user journey", () => {
  it("registers, publishes user.registered, logs in and reads /me", async () => {
    const registered = await register("Alice@Example.com");
    expect(registered.statusCode, registered.body).toBe(201);
    const alice = registered.json();
    expect(alice).toMatchObject({ email: "alice@example.com", displayName: "Alice", roles: ["user"], disabled: false });
    expect(registered.body).not.toContain("argon2");

    const event = await env.waitForEvent("user.registered", (p) => p.userId === alice.id);
    expect(event.routingKey).toBe("user.registered");
    expect(event.payload).toMatchObject({ email: "alice@example.com", roles: ["user"] });
    await waitFor("outbox emptied", async () => env.sql("select count(*) from outbox") === "0");

    const stored = env.sql(`select password_hash from users where id = '${alice.id}'`);
    expect(phcParams(stored)).toEqual({ variant: "argon2id", m: 19456, t: 2, p: 1 });

    const tokens = await tokensFor("alice@example.com");
    const me = await app.inject({ method: "GET", url: "/me", headers: bearer(tokens.accessToken) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual(alice);
  });

  it("refuses a second account for the same email in any case", async () => {
    const again = await register("ALICE@example.com ".trim());
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({ code: "EMAIL_TAKEN", details: [{ field: "body.email", reason: "is already registered" }] });
  });

  it.each([
    ["short1", "body.password: must be at least 12 characters (got 6)"],
    ["qwerty123456", "body.password: is one of the most common passwords; choose another"],
    ["QAZWSXEDCRFV", "body.password: is one of the most common passwords; choose another"],
    ["aaaaaaaaaaaaaaaa", "body.password: must not repeat a single character"],
  ])("refuses the password %j naming the field", async (password, message) => {
    const response = await register(`weak-${password.length}-${Math.random().toString(36).slice(2)}@example.com`, password);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toBe(message);
    expect(response.body).not.toContain(password === "short1" ? "short1" : password);
  });

  it("rotates refresh tokens and revokes the whole family when a spent one is reused", async () => {
    await register("bob@example.com");
    const first = await tokensFor("bob@example.com");
    const rotated = await app.inject({ method: "POST", url: "/auth/refresh", payload: { refreshToken: first.refreshToken } });
    expect(rotated.statusCode).toBe(200);
    const second = rotated.json();
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect((await app.inject({ method: "GET", url: "/me", headers: bearer(second.accessToken) })).statusCode).toBe(200);

    const reuse = await app.inject({ method: "POST", url: "/auth/refresh", payload: { refreshToken: first.refreshToken } });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().error.code).toBe("REFRESH_TOKEN_REUSED");
    // The legitimate holder's newer token is gone too: the family is revoked.
    const afterReuse = await app.inject({ method: "POST", url: "/auth/refresh", payload: { refreshToken: second.refreshToken } });
    expect(afterReuse.statusCode).toBe(401);
    expect(afterReuse.json().error.code).toBe("REFRESH_TOKEN_REVOKED");
    expect(logLines.some((line) => line.includes('"event":"refresh.reuse"'))).toBe(true);

    // Another login is another family and still works.
    const other = await tokensFor("bob@example.com");
    expect((await app.inject({ method: "POST", url: "/auth/refresh", payload: { refreshToken: other.refreshToken } })).statusCode).toBe(200);
  });

  it("stores only hashes of refresh tokens", async () => {
    const tokens = await tokensFor("bob@example.com");
    expect(env.sql(`select count(*) from refresh_tokens where encode(token_hash, 'escape') like '%${tokens.refreshToken.slice(0, 20)}%'`)).toBe("0");
    expect(env.sql("select min(octet_length(token_hash)) from refresh_tokens")).toBe("32");
  });

  it("logs out: the refresh token stops working", async () => {
    const tokens = await tokensFor("bob@example.com");
    expect((await app.inject({ method: "POST", url: "/auth/logout", payload: { refreshToken: tokens.refreshToken } })).statusCode).toBe(204);
    const refreshed = await app.inject({ method: "POST", url: "/auth/refresh", payload: { refreshToken: tokens.refreshToken } });
    expect(refreshed.statusCode).toBe(401);
  });

  it("lets the bootstrap administrator list, assign roles and disable; others get 403", async () => {
    const carol = (await register("carol@example.com")).json();
    const carolTokens = await tokensFor("carol@example.com");
    const admin = await tokensFor(ADMIN.email, ADMIN.password);

    const forbidden = await app.inject({ method: "GET", url: "/users", headers: bearer(carolTokens.accessToken) });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error.code).toBe("ADMIN_REQUIRED");
    expect((await app.inject({ method: "GET", url: "/users" })).statusCode).toBe(401);

    const list = await app.inject({ method: "GET", url: "/users?limit=2&offset=0", headers: bearer(admin.accessToken) });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toHaveLength(2);
    expect(list.json().total).toBeGreaterThanOrEqual(4);
    const filtered = await app.inject({ method: "GET", url: "/users?email=carol", headers: bearer(admin.accessToken) });
    expect(filtered.json().items.map((u: { email: string }) => u.email)).toEqual(["carol@example.com"]);

    const roles = await app.inject({ method: "PUT", url: `/users/${carol.id}/roles`, headers: bearer(admin.accessToken), payload: { roles: ["user", "config:write"] } });
    expect(roles.statusCode).toBe(200);
    expect(roles.json().roles).toEqual(["config:write", "user"]);
    const relogin = await tokensFor("carol@example.com");
    const { decodeJwt } = await loadJose();
    expect(decodeJwt(relogin.accessToken).roles).toEqual(["config:write", "user"]);

    const disabled = await app.inject({ method: "POST", url: `/users/${carol.id}/disable`, headers: bearer(admin.accessToken) });
    expect(disabled.statusCode).toBe(200);
    expect(disabled.json().disabled).toBe(true);
    const event = await env.waitForEvent("user.disabled", (p) => p.userId === carol.id);
    expect(event.payload.disabledBy).toBe(decodeJwt(admin.accessToken).sub);

    // Her unexpired access token no longer reaches her account, and she cannot get new tokens.
    const me = await app.inject({ method: "GET", url: "/me", headers: bearer(relogin.accessToken) });
    expect(me.statusCode).toBe(403);
    expect(me.json().error.code).toBe("ACCOUNT_DISABLED");
    expect((await login("carol@example.com")).statusCode).toBe(403);
    expect((await app.inject({ method: "POST", url: "/auth/refresh", payload: { refreshToken: carolTokens.refreshToken } })).statusCode).toBe(401);

    const self = await app.inject({ method: "POST", url: `/users/${decodeJwt(admin.accessToken).sub}/disable`, headers: bearer(admin.accessToken) });
    expect(self.statusCode).toBe(409);
    const missing = await app.inject({ method: "POST", url: "/users/00000000-0000-4000-8000-000000000000/disable", headers: bearer(admin.accessToken) });
    expect(missing.statusCode).toBe(404);
  });

  it("upgrades a hash made with older argon2 parameters at the next login", async () => {
    const oldHash = await argon2.hash("an older passphrase 77", { type: argon2.argon2id, memoryCost: 8192, timeCost: 3, parallelism: 1 });
    env.sql(`insert into users (email, password_hash) values ('dave@example.com', '${oldHash}')`);
    await tokensFor("dave@example.com", "an older passphrase 77");
    const upgraded = env.sql("select password_hash from users where email = 'dave@example.com'");
    expect(phcParams(oldHash)).toEqual({ variant: "argon2id", m: 8192, t: 3, p: 1 });
    expect(phcParams(upgraded)).toEqual({ variant: "argon2id", m: 19456, t: 2, p: 1 });
    expect(await argon2.verify(upgraded, "an older passphrase 77")).toBe(true);
    await tokensFor("dave@example.com", "an older passphrase 77");
  });
});

describe("OpenAPI", () => {
  it("documents every route from its schemas at /docs/json", async () => {
    const document = (await app.inject("/docs/json")).json();
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths).sort()).toEqual(
      ["/.well-known/jwks.json", "/auth/login", "/auth/logout", "/auth/refresh", "/auth/register", "/health/live", "/health/ready", "/me", "/users", "/users/{id}/disable", "/users/{id}/roles"].sort(),
    );
    const register = document.paths["/auth/register"].post;
    expect(register.requestBody.content["application/json"].schema.required).toEqual(["email", "password"]);
    expect(Object.keys(register.responses)).toEqual(expect.arrayContaining(["201", "400", "409"]));
    expect(document.paths["/users"].get.security).toEqual([{ bearer: [] }]);
    expect(document.paths["/users"].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual(["email", "limit", "offset"]);
  });
});

describe("long polls", () => {
  it("lists for the gateway and the latency alerts exactly the routes that wait, with the parameter that makes them", async () => {
    const document = (await app.inject("/docs/json")).json() as { paths: Record<string, { get?: { parameters?: Array<{ name: string; in: string }> } }> };
    const waiting = Object.entries(document.paths)
      .filter(([, methods]) => methods.get?.parameters?.some((p) => p.in === "query" && p.name === "wait"))
      .map(([path]) => ({ path: path.replace(/\{(\w+)\}/g, ":$1"), heldWith: "wait" }));
    expect(SERVICE_LONG_POLLS.users).toEqual(waiting);
  });
});

describe("access tokens", () => {
  let token: string;
  beforeAll(async () => {
    await register("erin@example.com");
    token = (await tokensFor("erin@example.com")).accessToken;
  });

  async function me(accessToken: string) {
    const response = await app.inject({ method: "GET", url: "/me", headers: bearer(accessToken) });
    return { status: response.statusCode, code: response.json().error?.code as string | undefined };
  }

  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const parts = () => token.split(".") as [string, string, string];

  it("accepts the genuine token and publishes its key in the JWKS", async () => {
    expect((await me(token)).status).toBe(200);
    const jose = await loadJose();
    const document = (await app.inject("/.well-known/jwks.json")).json();
    const { payload, protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(document), { issuer: "fundament-users", audience: "fundament" });
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(document.keys.map((k: { kid: string }) => k.kid)).toContain(protectedHeader.kid);
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it("rejects a tampered payload", async () => {
    const [header, payload, signature] = parts();
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    expect(await me(`${header}.${b64({ ...claims, roles: ["admin"] })}.${signature}`)).toEqual({ status: 401, code: "TOKEN_INVALID" });
  });

  it("rejects alg: none", async () => {
    const [header, payload] = parts();
    const unsigned = { ...JSON.parse(Buffer.from(header, "base64url").toString()), alg: "none" };
    expect(await me(`${b64(unsigned)}.${payload}.`)).toEqual({ status: 401, code: "TOKEN_INVALID" });
  });

  it("rejects an unknown kid and a foreign key that claims a known kid", async () => {
    const jose = await loadJose();
    const { privateKey } = generateKeyPairSync("ed25519");
    const [header, payload] = parts();
    const { kid } = JSON.parse(Buffer.from(header, "base64url").toString());
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const signWith = (keyId: string) => new jose.SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: keyId, typ: "at+jwt" }).sign(privateKey);
    expect(await me(await signWith("some-other-key"))).toEqual({ status: 401, code: "TOKEN_UNKNOWN_KEY" });
    expect(await me(await signWith(kid))).toEqual({ status: 401, code: "TOKEN_INVALID" });
  });

  it("rejects an expired token signed with the real key", async () => {
    const jose = await loadJose();
    const { createPrivateKey } = await import("node:crypto");
    const [header, payload] = parts();
    const { kid } = JSON.parse(Buffer.from(header, "base64url").toString());
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const now = Math.floor(Date.now() / 1000);
    const expired = await new jose.SignJWT({ ...claims, iat: now - 1000, exp: now - 100 })
      .setProtectedHeader({ alg: "EdDSA", kid, typ: "at+jwt" })
      .sign(createPrivateKey(env.signingKeyPem));
    expect(await me(expired)).toEqual({ status: 401, code: "TOKEN_EXPIRED" });
  });

  it("rejects a missing or malformed authorization header, naming it", async () => {
    const missing = await app.inject({ method: "GET", url: "/me" });
    expect(missing.statusCode).toBe(401);
    expect(missing.json().error.message).toMatch(/^headers\.authorization: /);
    expect((await app.inject({ method: "GET", url: "/me", headers: { authorization: `Basic ${token}` } })).statusCode).toBe(401);
  });
});

describe("login rate limit", () => {
  it("answers 429 after repeated failures for an account, logs the lockout, and recovers after the window", async () => {
    await register("frank@example.com");
    // Together, so all three failures land well inside the window however slow argon2 is today.
    const failures = await Promise.all([1, 2, 3].map(() => login("frank@example.com", "wrong password here")));
    expect(failures.map((r) => r.statusCode)).toEqual([401, 401, 401]);
    const locked = await login("frank@example.com");
    expect(locked.statusCode).toBe(429);
    expect(locked.json().error.code).toBe("RATE_LIMITED");
    expect(Number(locked.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(logLines.some((line) => line.includes('"event":"login.lockout"'))).toBe(true);
    expect(logLines.join("")).not.toContain("wrong password here");

    await new Promise((resolve) => setTimeout(resolve, 3200));
    expect((await login("frank@example.com")).statusCode).toBe(200);
  });

  it("forgives an account's failures on a successful login", async () => {
    await register("grace@example.com");
    const wrong = () => login("grace@example.com", "wrong password here");
    expect((await Promise.all([wrong(), wrong()])).map((r) => r.statusCode)).toEqual([401, 401]);
    expect((await login("grace@example.com")).statusCode).toBe(200);
    // Two more failures would make four in the window (the limit is three) had the success not cleared them.
    expect((await Promise.all([wrong(), wrong()])).map((r) => r.statusCode)).toEqual([401, 401]);
    expect((await login("grace@example.com")).statusCode).toBe(200);
  });

  it("keeps counting when Redis has forgotten the limit's scripts (a restart or a failover empties the script cache)", async () => {
    await register("heidi@example.com");
    // The service's own Redis settings; the test server's user may run SCRIPT FLUSH.
    const settings = env.env();
    const admin = createRedis({
      url: settings.REDIS_URL!,
      tls: { ca: readFileSync(settings.REDIS_CA_FILE!, "utf8") },
      password: readFileSync(settings.REDIS_PASSWORD_FILE!, "utf8"),
      connectionName: "journey-admin",
    });
    try {
      const wrong = () => login("heidi@example.com", "wrong password here");
      expect((await wrong()).statusCode).toBe(401);
      expect(await admin.script("FLUSH")).toBe("OK");
      expect((await Promise.all([wrong(), wrong()])).map((r) => r.statusCode)).toEqual([401, 401]);
      await admin.script("FLUSH");
      expect((await login("heidi@example.com")).statusCode).toBe(429);
    } finally {
      await closeRedis(admin);
    }
  });

  it("limits attempts per client address across accounts", async () => {
    const address = newAddress();
    // Counted as they arrive, before any password work: sent together, they all fall in one window.
    const answers = await Promise.all(Array.from({ length: 10 }, (_, attempt) => login(`nobody-${attempt}@example.com`, "whatever password", address)));
    const statuses = answers.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([...Array(8).fill(401), 429, 429]);
    // Another address is unaffected.
    expect((await login("nobody@example.com", "whatever password")).statusCode).toBe(401);
  });
});
