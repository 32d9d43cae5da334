import * as fc from "fast-check";
import { createLogger, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../src/app";
import { loadUsersConfig } from "../src/config";
import { connectDependencies } from "../src/dependencies";
import { BOOT_TIMEOUT_MS, startUsersTestEnvironment, type UsersTestEnvironment } from "./support/users-test-environment";

let env: UsersTestEnvironment;
let app: ServiceApp;
let adminToken: string;
let userId: string;
const NUM_RUNS = 60;

beforeAll(async () => {
  env = await startUsersTestEnvironment("badinput");
  const config = loadUsersConfig(env.env({ LOGIN_RATE_LIMIT_IP_MAX: "100000", LOGIN_RATE_LIMIT_ACCOUNT_MAX: "100000" }));
  app = await buildApp(await connectDependencies(config, createLogger({ service: "users", level: "silent" })));
  const registered = await app.inject({ method: "POST", url: "/auth/register", payload: { email: "fuzz@example.com", password: "a sturdy passphrase 42" } });
  userId = registered.json().id;
  env.sql(`update users set roles = '{admin,user}' where id = '${userId}'`);
  adminToken = (await app.inject({ method: "POST", url: "/auth/login", payload: { email: "fuzz@example.com", password: "a sturdy passphrase 42" } })).json().accessToken;
}, BOOT_TIMEOUT_MS);
afterAll(async () => {
  await app?.close();
  await env?.destroy();
});

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface BodyField {
  /** Values the schema refuses for this field, whatever the rest of the body. */
  invalid: fc.Arbitrary<Json>;
  valid: Json;
  required: boolean;
}

interface BodyRoute {
  method: "POST" | "PUT";
  url: () => string;
  fields: Record<string, BodyField>;
}

const notAString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
const notAnEmail = fc.oneof(notAString, fc.string({ maxLength: 40 }).filter((s) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(s)), fc.string({ minLength: 255, maxLength: 300 }).map((s) => `${s}@example.com`));
const notARefreshToken = fc.oneof(notAString, fc.string({ maxLength: 42 }), fc.string({ minLength: 44, maxLength: 80 }), fc.string({ minLength: 43, maxLength: 43 }).filter((s) => !/^[A-Za-z0-9_-]+$/.test(s)));
const tooLong = (min: number) => fc.string({ minLength: min, maxLength: min + 50, unit: "grapheme-ascii" });
const badRoles = fc.oneof(
  notAString,
  fc.constant<Json>([]),
  fc.array(fc.string().filter((s) => !/^[a-z][a-z0-9:_-]{1,63}$/.test(s)), { minLength: 1, maxLength: 3 }),
  fc.array(fc.constantFrom("user", "admin"), { minLength: 17, maxLength: 20 }),
  fc.constant<Json>(["user", "user"]),
);

const bodyRoutes: Record<string, BodyRoute> = {
  "POST /auth/register": {
    method: "POST",
    url: () => "/auth/register",
    fields: {
      email: { invalid: notAnEmail, valid: "new-person@example.com", required: true },
      password: { invalid: fc.oneof(notAString, fc.constant(""), tooLong(129)), valid: "a sturdy passphrase 42", required: true },
      displayName: { invalid: fc.oneof(notAString, fc.constant(""), tooLong(101)), valid: "New Person", required: false },
    },
  },
  "POST /auth/login": {
    method: "POST",
    url: () => "/auth/login",
    fields: {
      email: { invalid: notAnEmail, valid: "fuzz@example.com", required: true },
      password: { invalid: fc.oneof(notAString, fc.constant(""), tooLong(1025)), valid: "a sturdy passphrase 42", required: true },
    },
  },
  "POST /auth/refresh": {
    method: "POST",
    url: () => "/auth/refresh",
    fields: { refreshToken: { invalid: notARefreshToken, valid: "A".repeat(43), required: true } },
  },
  "POST /auth/logout": {
    method: "POST",
    url: () => "/auth/logout",
    fields: { refreshToken: { invalid: notARefreshToken, valid: "A".repeat(43), required: true } },
  },
  "PUT /users/:id/roles": {
    method: "PUT",
    url: () => `/users/${userId}/roles`,
    fields: { roles: { invalid: badRoles, valid: ["user"], required: true } },
  },
};

function validBody(route: BodyRoute): Record<string, Json> {
  return Object.fromEntries(Object.entries(route.fields).map(([name, field]) => [name, field.valid]));
}

/** One invalid body and the field its error must name. */
function invalidBodies(route: BodyRoute): fc.Arbitrary<{ body: Json; field: string }> {
  const names = Object.keys(route.fields);
  const required = names.filter((name) => route.fields[name]!.required);
  const badField = fc.constantFrom(...names).chain((name) =>
    route.fields[name]!.invalid.map((value) => ({ body: { ...validBody(route), [name]: value } as Json, field: `body.${name}` })),
  );
  const missing = fc.constantFrom(...required).map((name) => {
    const body = validBody(route);
    delete body[name];
    return { body: body as Json, field: `body.${name}` };
  });
  const extra = fc
    .string({ minLength: 1, maxLength: 12 })
    .filter((key) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) && !names.includes(key) && key !== "__proto__" && key !== "constructor")
    .map((key) => ({ body: { ...validBody(route), [key]: 1 } as Json, field: `body.${key}` }));
  const notAnObject = fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 })).map((body) => ({ body: body as Json, field: "body" }));
  return fc.oneof(badField, missing, extra, notAnObject);
}

function expectFieldError(status: number, payload: string, field: string): void {
  expect(status, payload).toBeGreaterThanOrEqual(400);
  expect(status, payload).toBeLessThan(500);
  const error = JSON.parse(payload).error;
  const named: string = error.details[0].field;
  // An item inside the field (body.roles.0) names it more precisely, which is fine.
  expect(named === field || named.startsWith(`${field}.`), `${named} should be ${field} or inside it`).toBe(true);
  expect(error.message.startsWith(`${named}:`), `${error.message} should start with ${named}`).toBe(true);
}

describe("bad input never causes a 5xx and always names the field", () => {
  for (const [name, route] of Object.entries(bodyRoutes)) {
    it(`${name}: invalid bodies`, async () => {
      await fc.assert(
        fc.asyncProperty(invalidBodies(route), async ({ body, field }) => {
          const response = await app.inject({ method: route.method, url: route.url(), headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, payload: JSON.stringify(body) });
          expectFieldError(response.statusCode, response.body, field);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it(`${name}: bodies that are not JSON`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ minLength: 1, maxLength: 30 }).filter((text) => { try { JSON.parse(text); return false; } catch { return true; } }), async (text) => {
          const response = await app.inject({ method: route.method, url: route.url(), headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, payload: text });
          expectFieldError(response.statusCode, response.body, "body");
        }),
        { numRuns: 20 },
      );
    });
  }

  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const notAUuid = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !uuid.test(s) && s.trim() !== "");
  for (const [method, path, body] of [
    ["POST", "disable", undefined],
    ["PUT", "roles", { roles: ["user"] }],
  ] as const) {
    it(`${method} /users/:id/${path}: invalid ids`, async () => {
      await fc.assert(
        fc.asyncProperty(notAUuid, async (id) => {
          const response = await app.inject({ method, url: `/users/${encodeURIComponent(id)}/${path}`, headers: { authorization: `Bearer ${adminToken}` }, ...(body ? { payload: body } : {}) });
          if (response.statusCode === 404 && response.json().error.code === "NOT_FOUND" && response.json().error.message.startsWith("route ")) return; // an id with '/' is another path
          expectFieldError(response.statusCode, response.body, "params.id");
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }

  // Text a lenient reading would take for a number: blank (Ajv coerced " " to 0), hex, exponent, sign, padding.
  const numberLookalikes = ["", " ", "\t", " 7", "7 ", "0x10", "1e3", "+1", "1.0", "007"];
  it.each(numberLookalikes)("GET /users: %j as offset or limit is refused, naming the field", async (text) => {
    for (const key of ["offset", "limit"]) {
      const response = await app.inject({ method: "GET", url: "/users", query: { [key]: text }, headers: { authorization: `Bearer ${adminToken}` } });
      expectFieldError(response.statusCode, response.body, `querystring.${key}`);
    }
  });

  it("GET /users: invalid query strings", async () => {
    const decimal = /^-?(0|[1-9][0-9]*)$/;
    const badText = fc.oneof(fc.constantFrom(...numberLookalikes), fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !decimal.test(s)));
    const badLimit = fc.oneof(fc.integer({ max: 0 }).map(String), fc.integer({ min: 101 }).map(String), badText, fc.double({ min: 1.01, max: 99.99, noInteger: true }).map(String));
    const badOffset = fc.oneof(fc.integer({ max: -1 }).map(String), fc.integer({ min: 100_001 }).map(String), badText);
    const cases = fc.oneof(
      badLimit.map((value) => ({ query: { limit: value }, field: "querystring.limit" })),
      badOffset.map((value) => ({ query: { offset: value }, field: "querystring.offset" })),
      fc.string({ minLength: 255, maxLength: 300 }).map((value) => ({ query: { email: value }, field: "querystring.email" })),
      fc.constantFrom("page", "sort", "x").map((key) => ({ query: { [key]: "1" }, field: `querystring.${key}` })),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ query, field }) => {
        const response = await app.inject({ method: "GET", url: "/users", query, headers: { authorization: `Bearer ${adminToken}` } });
        expectFieldError(response.statusCode, response.body, field);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("authenticated routes: invalid authorization headers give 401 naming the header", async () => {
    const header = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }).map((s) => `Bearer ${s}`), fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((parts) => `Bearer ${parts.join(".")}`));
    const routes = [
      ["GET", "/me"],
      ["GET", "/users"],
      ["POST", `/users/00000000-0000-4000-8000-000000000000/disable`],
    ] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), header.filter((h) => /^[\x20-\x7e]*$/.test(h)), async ([method, url], authorization) => {
        const response = await app.inject({ method, url, headers: { authorization } });
        expect(response.statusCode, response.body).toBe(401);
        expect(response.json().error.message).toMatch(/^headers\.authorization: /);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("keeps serving after all of it", async () => {
    expect((await app.inject("/health/ready")).statusCode).toBe(200);
    const login = await app.inject({ method: "POST", url: "/auth/login", payload: { email: "fuzz@example.com", password: "a sturdy passphrase 42" } });
    expect(login.statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/me", headers: { authorization: `Bearer ${login.json().accessToken}` } })).statusCode).toBe(200);
  });
});
