import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuJobsApp } from "../../src/app";
import type { Provider } from "../../src/placement/rank-offers";
import type { ProviderAdapter } from "../../src/providers/provider-adapter";
import { adapterFor, startFake } from "../fakes/adapters-for-fakes";
import type { FakeProvider } from "../fakes/fake-providers";
import { type GpuJobsEnvironment, startGpuJobsEnvironment } from "../support/gpu-jobs-environment";

let env: GpuJobsEnvironment;
let fake: FakeProvider;
let service: GpuJobsApp;
let vision: string;
let audio: string;
let admin: string;
let reader: string;

const VALID = {
  project: "vision",
  image: "ghcr.io/acme/train:1.0",
  command: ["python", "train.py"],
  environment: { HF_TOKEN: { secretRef: "hf-token" } },
  gpu: { gpuCount: 1, minGpuMemoryGiB: 24, spot: "allow" },
  maxPricePerHour: 2,
  estimatedHours: 10,
};

async function call(method: "GET" | "POST" | "PUT" | "DELETE", url: string, token: string | undefined, payload?: unknown) {
  const response = await service.app.inject({
    method,
    url,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload), headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } }),
  });
  return { status: response.statusCode, body: response.json() as Record<string, unknown> & { error?: { code: string; message: string; details?: Record<string, number> } } };
}

beforeAll(async () => {
  env = await startGpuJobsEnvironment();
  fake = await startFake("lambda");
  const adapters = new Map<Provider, ProviderAdapter>([["lambda", adapterFor("lambda", fake.server.url)]]);
  service = await env.app(adapters);
  vision = await env.token(["gpu:submit", "gpu:project:vision"], "alice");
  audio = await env.token(["gpu:submit", "gpu:project:audio"], "bob");
  admin = await env.token(["gpu:admin"], "root");
  reader = await env.token(["config:write"], "carol");
  expect((await call("PUT", "/budgets/vision", admin, { limitUsd: 50 })).status).toBe(200);
  expect((await call("PUT", "/budgets/audio", admin, { limitUsd: 50 })).status).toBe(200);
});

afterAll(async () => {
  await fake?.close();
  await env?.stop();
});

describe("roles and projects", () => {
  it("401 without a token, 403 without a GPU role, 403 for a project the caller has no role for", async () => {
    expect((await call("POST", "/jobs", undefined, VALID)).status).toBe(401);
    const noRole = await call("POST", "/jobs", reader, VALID);
    expect(noRole.status).toBe(403);
    expect(noRole.body.error?.code).toBe("ROLE_REQUIRED");
    const otherProject = await call("POST", "/jobs", audio, VALID);
    expect(otherProject.status).toBe(403);
    expect(otherProject.body.error?.message).toMatch(/^body\.project:/);
  });

  it("only gpu:admin sets budgets", async () => {
    expect((await call("PUT", "/budgets/vision", vision, { limitUsd: 1e6 })).status).toBe(403);
  });

  it("another project's job is 404, exactly like an unknown one, and absent from listings", async () => {
    const created = await call("POST", "/jobs", vision, VALID);
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const asOwner = await call("GET", `/jobs/${id}`, vision);
    expect(asOwner.status).toBe(200);
    expect(asOwner.body).toMatchObject({ state: "queued", project: "vision", attempts: [] });
    // The secret is referenced by name, its value never appears.
    expect(JSON.stringify(asOwner.body)).not.toContain("hf_secret_value");
    const asOther = await call("GET", `/jobs/${id}`, audio);
    const unknown = await call("GET", "/jobs/7d1f6a7e-1111-4aaa-8bbb-123456789abc", audio);
    expect([asOther.status, asOther.body]).toEqual([unknown.status, unknown.body]);
    expect(asOther.status).toBe(404);
    expect((await call("DELETE", `/jobs/${id}`, audio)).status).toBe(404);
    expect(((await call("GET", "/jobs", audio)).body.jobs as unknown[]).length).toBe(0);
    expect(((await call("GET", "/jobs?project=vision", audio)).body.jobs as unknown[]).length).toBe(0);
    expect(((await call("GET", "/jobs?project=vision", admin)).body.jobs as unknown[]).length).toBeGreaterThan(0);
    // Cancelling a job that never ran needs no provider call.
    const cancelled = await call("DELETE", `/jobs/${id}`, vision);
    expect(cancelled.status).toBe(202);
    await service.runner.advance(id);
    expect((await call("GET", `/jobs/${id}`, vision)).body.state).toBe("cancelled");
  });
});

describe("budgets", () => {
  it("refuses with 402 and the numbers a job whose worst case exceeds what is left, and changes nothing", async () => {
    const before = await call("GET", "/budgets/audio", audio);
    const first = await call("POST", "/jobs", audio, { ...VALID, project: "audio", maxPricePerHour: 3, estimatedHours: 10 });
    expect(first.status).toBe(201);
    const refused = await call("POST", "/jobs", audio, { ...VALID, project: "audio", maxPricePerHour: 3, estimatedHours: 7 });
    expect(refused.status).toBe(402);
    expect(refused.body.error?.code).toBe("BUDGET_EXCEEDED");
    expect(refused.body.error?.details).toMatchObject({ requestedUsd: 21, limitUsd: 50, committedUsd: 30, remainingUsd: 20 });
    expect(refused.body.error?.message).toContain("21.00 USD");
    expect(refused.body.error?.message).toContain("20.00 USD left of 50.00");
    const after = await call("GET", "/budgets/audio", audio);
    expect(after.body.committedUsd).toBe((before.body.committedUsd as number) + 30);
    expect(((await call("GET", "/jobs?project=audio", audio)).body.jobs as unknown[]).length).toBe(1);
  });

  it("records every action in the append-only audit table, which refuses changes", async () => {
    const actions = env.sql("select string_agg(distinct action, ',' order by action) from gpu_audit");
    expect(actions).toContain("budget.set");
    expect(actions).toContain("job.submitted");
    expect(() => env.sql("update gpu_audit set actor = 'mallory'")).toThrow(/append-only/);
    expect(() => env.sql("delete from gpu_audit")).toThrow(/append-only/);
  });
});

describe("offers and queues", () => {
  it("ranks the current offers for a request", async () => {
    const offers = await call("GET", "/offers?gpuCount=1&minGpuMemoryGiB=40&estimatedHours=2", vision);
    expect(offers.status).toBe(200);
    expect(offers.body.offers).toEqual([expect.objectContaining({ provider: "lambda", offerId: "gpu_1x_a100@us-east-1", pricePerHour: 1.29 })]);
    const none = await call("GET", "/offers?gpuCount=1&minGpuMemoryGiB=80", vision);
    expect(none.body.offers).toEqual([]);
  });

  it("shows depth and age per queue", async () => {
    const queues = await call("GET", "/queues", vision);
    expect(queues.status).toBe(200);
    expect(queues.body.queues).toEqual(expect.arrayContaining([expect.objectContaining({ state: "queued", depth: expect.any(Number) })]));
  });
});

describe("bad input", () => {
  /** Each generated body breaks one field of a valid submission; the 400 must name that field and nothing may be stored. */
  const mutations: fc.Arbitrary<[Record<string, unknown>, string]> = fc.oneof(
    fc.constantFrom("project", "image", "command", "gpu", "maxPricePerHour", "estimatedHours").map((field): [Record<string, unknown>, string] => {
      const { [field as keyof typeof VALID]: _removed, ...rest } = VALID;
      return [rest, "body"];
    }),
    fc.oneof(fc.constant(""), fc.constant("UPPER"), fc.constant("-lead"), fc.string({ minLength: 64, maxLength: 70 }), fc.integer()).map((value): [Record<string, unknown>, string] => [{ ...VALID, project: value }, "body.project"]),
    fc.oneof(fc.constant(""), fc.constant("has space"), fc.integer(), fc.constant(null)).map((value): [Record<string, unknown>, string] => [{ ...VALID, image: value }, "body.image"]),
    fc.oneof(fc.constant([]), fc.constant("python"), fc.constant([1])).map((value): [Record<string, unknown>, string] => [{ ...VALID, command: value }, "body.command"]),
    fc.oneof(fc.constant(0), fc.constant(-1), fc.constant(1001), fc.constant("2")).map((value): [Record<string, unknown>, string] => [{ ...VALID, maxPricePerHour: value }, "body.maxPricePerHour"]),
    fc.oneof(fc.constant(0), fc.constant(-5), fc.constant(9000), fc.constant(null)).map((value): [Record<string, unknown>, string] => [{ ...VALID, estimatedHours: value }, "body.estimatedHours"]),
    fc.oneof(fc.constant(0), fc.constant(1.5), fc.constant(17), fc.constant("1")).map((value): [Record<string, unknown>, string] => [{ ...VALID, gpu: { ...VALID.gpu, gpuCount: value } }, "body.gpu.gpuCount"]),
    fc.constantFrom("sometimes", "", 1).map((value): [Record<string, unknown>, string] => [{ ...VALID, gpu: { ...VALID.gpu, spot: value } }, "body.gpu.spot"]),
    fc.constantFrom("yesterday", "2020-01-01T00:00:00Z").map((value): [Record<string, unknown>, string] => [{ ...VALID, deadline: value }, "body.deadline"]),
    fc.constantFrom("missing-secret", "other").map((value): [Record<string, unknown>, string] => [{ ...VALID, environment: { TOKEN: { secretRef: value } } }, "body.environment.TOKEN.secretRef"]),
    fc.constantFrom("1BAD", "has-dash").map((value): [Record<string, unknown>, string] => [{ ...VALID, environment: { [value]: { value: "x" } } }, "body.environment"]),
    fc.string({ minLength: 1, maxLength: 8, unit: fc.constantFrom(..."xyzq") }).map((key): [Record<string, unknown>, string] => [{ ...VALID, [key]: 1 }, `body.${key}`]),
  );

  it("answers 400 naming the field, and stores nothing", async () => {
    const count = () => env.sql("select count(*) from gpu_jobs");
    const before = count();
    await fc.assert(
      fc.asyncProperty(mutations, async ([body, field]) => {
        const response = await call("POST", "/jobs", vision, body);
        expect(response.status, JSON.stringify(body)).toBe(400);
        expect(response.body.error?.message, JSON.stringify(body)).toMatch(new RegExp(`^${field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      }),
      { numRuns: 80 },
    );
    expect(count()).toBe(before);
  });

  it("names bad path and query parameters on every route", async () => {
    for (const [method, url, field] of [
      ["GET", "/jobs/not-a-uuid", "params.id"],
      ["DELETE", "/jobs/42", "params.id"],
      ["GET", "/jobs?state=sleeping", "querystring.state"],
      ["GET", "/jobs?limit=0", "querystring.limit"],
      ["GET", "/offers?gpuCount=0", "querystring.gpuCount"],
      // Blank, hex and exponent text is not read as a number (Ajv's coercion would take " " for 0).
      ["GET", "/jobs?limit=%20", "querystring.limit"],
      ["GET", "/offers?gpuCount=0x2", "querystring.gpuCount"],
      ["GET", "/offers?gpuCount=1&limit=1e1", "querystring.limit"],
      ["GET", "/offers?gpuCount=1&spot=maybe", "querystring.spot"],
      ["GET", "/offers", "querystring"],
      ["PUT", "/budgets/Bad_Name", "params.project"],
    ] as const) {
      const response = await call(method, url, admin, method === "PUT" ? { limitUsd: 1 } : undefined);
      expect(response.status, url).toBe(400);
      expect(response.body.error?.message, url).toMatch(new RegExp(`^${field.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    }
    const budget = await call("PUT", "/budgets/vision", admin, { limitUsd: -1 });
    expect(budget.body.error?.message).toMatch(/^body\.limitUsd/);
  });
});
