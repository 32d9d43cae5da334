import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { GpuJobsApp } from "../../src/app";
import type { Provider } from "../../src/placement/rank-offers";
import { reapOrphans } from "../../src/jobs/orphan-reaper";
import { idempotencyKey, type ProviderAdapter } from "../../src/providers/provider-adapter";
import { adapterFor, type HttpProvider, startFake } from "../fakes/adapters-for-fakes";
import type { FakeProvider } from "../fakes/fake-providers";
import { type GpuJobsEnvironment, startGpuJobsEnvironment } from "../support/gpu-jobs-environment";

const PROVIDERS: HttpProvider[] = ["vastai", "lambda", "runpod"];
let env: GpuJobsEnvironment;
const fakes = new Map<HttpProvider, FakeProvider>();
let adapters: Map<Provider, ProviderAdapter>;
let service: GpuJobsApp;
let submitter: string;
let admin: string;

// Expected cost per hour of the cheapest offer of each fake: vastai 0.45/0.98, lambda 1.29/0.95, runpod 1.5/0.95.
const JOB = {
  project: "vision",
  image: "ghcr.io/acme/train:1.0",
  command: ["python", "train.py"],
  environment: { HF_TOKEN: { secretRef: "hf-token" }, EPOCHS: { value: "3" } },
  gpu: { gpuCount: 1, minGpuMemoryGiB: 24, spot: "deny" },
  maxPricePerHour: 2,
  estimatedHours: 10,
};

async function submit(body: Record<string, unknown> = JOB, token = submitter) {
  return service.app.inject({ method: "POST", url: "/jobs", headers: { authorization: `Bearer ${token}` }, payload: body });
}

async function job(id: string) {
  const response = await service.app.inject({ method: "GET", url: `/jobs/${id}`, headers: { authorization: `Bearer ${submitter}` } });
  return response.json() as { state: string; provider: string | null; instanceId: string | null; stateReason: string | null; attempts: Array<{ provider: string; outcome: string; reason: string | null }> };
}

beforeAll(async () => {
  env = await startGpuJobsEnvironment();
  for (const provider of PROVIDERS) fakes.set(provider, await startFake(provider));
  adapters = new Map(PROVIDERS.map((provider) => [provider, adapterFor(provider, fakes.get(provider)!.server.url)]));
  service = await env.app(adapters);
  submitter = await env.token(["gpu:submit", "gpu:project:vision"]);
  admin = await env.token(["gpu:admin"], "admin-1");
  const budget = await service.app.inject({ method: "PUT", url: "/budgets/vision", headers: { authorization: `Bearer ${admin}` }, payload: { limitUsd: 200 } });
  expect(budget.statusCode).toBe(200);
});

afterAll(async () => {
  for (const fake of fakes.values()) await fake.close();
  await env?.stop();
});

beforeEach(() => {
  for (const fake of fakes.values()) fake.instances.length = 0;
});

const running = (provider: HttpProvider) => fakes.get(provider)!.instances.filter((i) => i.state === "running");

describe("placement with failover", () => {
  it("fails over past a rate limit and no capacity to the next-cheapest offer, recording every attempt with its reason", async () => {
    fakes.get("vastai")!.scenarios.push("rate_limit");
    fakes.get("lambda")!.scenarios.push("no_capacity");
    const created = await submit();
    expect(created.statusCode).toBe(201);
    const { id } = created.json() as { id: string };
    await service.runner.place(id);
    const placed = await job(id);
    expect(placed, placed.stateReason ?? "").toMatchObject({ state: "running", provider: "runpod" });
    expect(placed.attempts.map((a) => [a.provider, a.outcome, a.reason])).toEqual([
      ["vastai", "failed", "rate_limited"],
      ["lambda", "failed", "no_capacity"],
      ["runpod", "launched", "launched"],
    ]);
    expect(running("runpod")).toHaveLength(1);
    expect(running("runpod")[0]!.name).toBe(idempotencyKey(id, 3));
  });

  it("adopts a launch that timed out but succeeded instead of launching elsewhere", async () => {
    // A fresh replica: the rate-limit back-off of the previous test lives in the old one's memory.
    service = await env.app(adapters, { owner: "replica-2" });
    fakes.get("vastai")!.scenarios.push("slow_success");
    const { id } = (await submit()).json() as { id: string };
    await service.runner.place(id);
    const placed = await job(id);
    expect(placed).toMatchObject({ state: "running", provider: "vastai" });
    expect(placed.attempts).toHaveLength(1);
    expect(placed.attempts[0]).toMatchObject({ outcome: "launched", reason: "found by reconciliation after an unanswered launch" });
    expect(running("vastai")).toHaveLength(1);
    expect(running("lambda")).toHaveLength(0);
    expect(running("runpod")).toHaveLength(0);
  });

  it("gives up with every attempt's reason when no offer launches", async () => {
    service = await env.app(adapters, { owner: "replica-3" });
    fakes.get("vastai")!.scenarios.push("quota");
    fakes.get("lambda")!.scenarios.push("no_capacity");
    fakes.get("runpod")!.scenarios.push("no_capacity", "no_capacity");
    const { id } = (await submit()).json() as { id: string };
    await service.runner.place(id);
    const placed = await job(id);
    expect(placed.state).toBe("failed");
    expect(placed.stateReason).toContain("vastai:5001 quota");
    expect(placed.stateReason).toContain("lambda:gpu_1x_a100@us-east-1 no_capacity");
    expect(placed.attempts).toHaveLength(3);
  });
});

describe("restart resume (state left behind by a replica killed mid-placement)", () => {
  async function crashedMidLaunch(launchedAtProvider: boolean): Promise<string> {
    const { id } = (await submit()).json() as { id: string };
    const key = idempotencyKey(id, 1);
    // What a replica leaves when it dies after committing the attempt and sending the launch: a pending attempt, a live lease.
    env.sql(`update gpu_jobs set state = 'placing', lease_owner = 'dead-replica', lease_until = now() + interval '1 hour' where id = '${id}'`);
    env.sql(`insert into gpu_attempts (job_id, attempt, provider, offer_id, gpu_model, price_per_hour, idempotency_key, outcome) values ('${id}', 1, 'vastai', '5001', 'RTX 4090', 0.45, '${key}', 'pending')`);
    if (launchedAtProvider) fakes.get("vastai")!.instances.push({ id: "777", name: key, state: "running" });
    return id;
  }

  it("leaves a job alone while the dead replica's lease lasts, then adopts the instance its launch created", async () => {
    service = await env.app(adapters, { owner: "replica-4" });
    const id = await crashedMidLaunch(true);
    await service.runner.place(id);
    expect((await job(id)).state).toBe("placing");
    env.sql(`update gpu_jobs set lease_until = now() - interval '1 second' where id = '${id}'`);
    await service.runner.place(id);
    const placed = await job(id);
    expect(placed).toMatchObject({ state: "running", provider: "vastai", instanceId: "777" });
    expect(fakes.get("vastai")!.server.requests.filter((r) => r.method === "PUT" && (r.body as { label?: string }).label === idempotencyKey(id, 1))).toHaveLength(0);
    expect(running("vastai")).toHaveLength(1);
  });

  it("launches exactly once more when the dead replica's launch never reached the provider", async () => {
    service = await env.app(adapters, { owner: "replica-5" });
    const id = await crashedMidLaunch(false);
    env.sql(`update gpu_jobs set lease_until = now() - interval '1 second' where id = '${id}'`);
    await service.runner.place(id);
    const placed = await job(id);
    expect(placed.state).toBe("running");
    expect(placed.attempts.map((a) => [a.outcome, a.reason])).toEqual([
      ["failed", "timeout"],
      ["launched", "launched"],
    ]);
    const launched = [...PROVIDERS].flatMap((provider) => running(provider));
    expect(launched).toHaveLength(1);
  });
});

describe("running jobs", () => {
  async function runningJob(): Promise<string> {
    service = await env.app(adapters, { owner: `replica-${Math.random()}` });
    const { id } = (await submit()).json() as { id: string };
    await service.runner.place(id);
    expect((await job(id)).state).toBe("running");
    return id;
  }

  it("cancellation terminates the instance", async () => {
    const id = await runningJob();
    const placed = await job(id);
    const cancelled = await service.app.inject({ method: "DELETE", url: `/jobs/${id}`, headers: { authorization: `Bearer ${submitter}` } });
    expect(cancelled.statusCode).toBe(202);
    await service.runner.advance(id);
    expect((await job(id)).state).toBe("cancelled");
    const fake = fakes.get(placed.provider as HttpProvider)!;
    expect(fake.instances.find((i) => i.id === placed.instanceId)?.state).toBe("terminated");
  });

  it("a job past its deadline is terminated and failed", async () => {
    const id = await runningJob();
    const placed = await job(id);
    env.sql(`update gpu_jobs set deadline = now() - interval '1 minute' where id = '${id}'`);
    await service.runner.advance(id);
    const after = await job(id);
    expect(after.state).toBe("failed");
    expect(after.stateReason).toContain("deadline exceeded");
    expect(fakes.get(placed.provider as HttpProvider)!.instances.find((i) => i.id === placed.instanceId)?.state).toBe("terminated");
  });

  it("a job whose cost reaches what it reserved is terminated", async () => {
    const id = await runningJob();
    env.sql(`update gpu_jobs set started_at = now() - interval '48 hours' where id = '${id}'`);
    await service.runner.advance(id);
    const after = await job(id);
    expect(after.state).toBe("failed");
    expect(after.stateReason).toContain("budget exhausted");
  });

  it("a finished command ends the job as succeeded and terminates its instance", async () => {
    const id = await runningJob();
    const placed = await job(id);
    fakes.get(placed.provider as HttpProvider)!.instances.find((i) => i.id === placed.instanceId)!.state = "exited";
    await service.runner.advance(id);
    expect((await job(id)).state).toBe("succeeded");
  });
});

describe("orphan reaper", () => {
  it("terminates a tagged instance without a live job and nothing else", async () => {
    
    service = await env.app(adapters, { owner: "replica-reaper" });
    const id = (await submit()).json().id as string;
    await service.runner.place(id);
    const live = await job(id);
    const orphan = fakes.get("lambda")!;
    orphan.instances.push({ id: "lam-orphan", name: idempotencyKey("00000000-0000-4000-8000-000000000000", 1), state: "running" });
    const foreign = fakes.get("runpod")!.addForeign("research-notebook");
    const reaped = await reapOrphans(service.store, adapters, service.app.log as never);
    expect(reaped).toEqual([{ provider: "lambda", instanceId: "lam-orphan" }]);
    expect(foreign.state).toBe("running");
    expect(fakes.get(live.provider as HttpProvider)!.instances.find((i) => i.id === live.instanceId)?.state).toBe("running");
    const audit = env.sql("select action from gpu_audit where action = 'instance.reaped'");
    expect(audit).toContain("instance.reaped");
  });
});
