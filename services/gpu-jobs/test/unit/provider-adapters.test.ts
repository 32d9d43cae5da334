import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuOffer } from "../../src/placement/rank-offers";
import { idempotencyKey, type LaunchSpec, type ProviderAdapter, ProviderError } from "../../src/providers/provider-adapter";
import { adapterFor, HTTP_PROVIDERS, type HttpProvider, startFake, TIMEOUT_MS } from "../fakes/adapters-for-fakes";
import type { FakeProvider } from "../fakes/fake-providers";

const JOB = "0f8fad5b-d9cb-469f-a165-70867728950e";

function spec(offer: GpuOffer, attempt: number): LaunchSpec {
  return { key: idempotencyKey(JOB, attempt), offer, image: "ghcr.io/acme/train:1.0", command: ["python", "train.py", "--epochs", "3"], environment: { WANDB_MODE: "offline" }, gpuCount: offer.gpuCount };
}

async function launchError(adapter: ProviderAdapter, launchSpec: LaunchSpec): Promise<ProviderError> {
  const error = await adapter.launch(launchSpec, AbortSignal.timeout(TIMEOUT_MS)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe.each(HTTP_PROVIDERS)("%s adapter against a fake of its documented API", (provider: HttpProvider) => {
  let fake: FakeProvider;
  let adapter: ProviderAdapter;
  let offer: GpuOffer;

  beforeAll(async () => {
    fake = await startFake(provider);
    adapter = adapterFor(provider, fake.server.url);
    const offers = await adapter.listOffers();
    expect(offers.length).toBeGreaterThan(0);
    offer = offers[0]!;
  });
  afterAll(() => fake.close());

  it("lists offers with a provider, a price and a GPU size", () => {
    expect(offer.provider).toBe(provider);
    expect(offer.pricePerHour).toBeGreaterThan(0);
    expect(offer.gpuMemoryGiB).toBeGreaterThan(0);
    expect(offer.gpuCount).toBeGreaterThan(0);
  });

  it("launches with the idempotency key in the name field, reports it running, lists it as owned and terminates it", async () => {
    const launched = await adapter.launch(spec(offer, 1), AbortSignal.timeout(5000));
    const status = await adapter.status(launched.instanceId);
    expect(status).toMatchObject({ key: idempotencyKey(JOB, 1), state: "running" });
    expect((await adapter.listOwned()).map((i) => i.key)).toContain(idempotencyKey(JOB, 1));
    await adapter.terminate(launched.instanceId);
    expect(await adapter.status(launched.instanceId)).toBeUndefined();
    // A second terminate of a gone instance is not an error: cancellation may repeat.
    await adapter.terminate(launched.instanceId);
  });

  it.each([
    ["no_capacity", "no_capacity"],
    ["quota", "quota"],
    ["rate_limit", "rate_limited"],
    ["auth", "auth"],
    ["server_error", "server_error"],
  ] as const)("maps a %s answer to reason %s", async (scenario, reason) => {
    // Kubernetes accepts a Job it cannot schedule (the pod stays Pending): there is no such answer to map.
    if (provider === "aws" && scenario === "no_capacity") return;
    fake.scenarios.push(scenario);
    const error = await launchError(adapter, spec(offer, 2));
    expect(error.reason).toBe(reason);
  });

  it("refuses a wrong API key as an auth failure", async () => {
    const wrong = adapterFor(provider, fake.server.url, { apiKey: "revoked" });
    const error = await wrong.listOwned().then(
      () => undefined,
      (e: unknown) => e as ProviderError,
    );
    expect(error?.reason).toBe("auth");
  });

  it("a launch that times out but succeeded is found again by its key", async () => {
    fake.scenarios.push("slow_success");
    const key = idempotencyKey(JOB, 3);
    const error = await launchError(adapter, spec(offer, 3));
    expect(error.reason).toBe("timeout");
    const owned = await adapter.listOwned();
    expect(owned.filter((i) => i.key === key)).toHaveLength(1);
  });

  it("lists as owned only instances carrying the platform's prefix", async () => {
    fake.addForeign("someone-elses-notebook");
    const owned = await adapter.listOwned();
    expect(owned.every((i) => i.key.startsWith("fgj-"))).toBe(true);
  });
});

describe("provider-specific documented behaviour", () => {
  it("vastai: a 429 without Retry-After leaves the back-off to the service", async () => {
    const fake = await startFake("vastai");
    try {
      fake.scenarios.push("rate_limit");
      const adapter = adapterFor("vastai", fake.server.url);
      const [offer] = await adapter.listOffers();
      const error = await launchError(adapter, spec(offer!, 1));
      expect(error.reason).toBe("rate_limited");
      expect(error.retryAfterMs).toBeUndefined();
    } finally {
      await fake.close();
    }
  });

  it("lambda: a rate limit with Retry-After carries the wait; types without regional capacity are no offer", async () => {
    const fake = await startFake("lambda");
    try {
      const adapter = adapterFor("lambda", fake.server.url);
      const offers = await adapter.listOffers();
      expect(offers.map((o) => o.offerId)).toEqual(["gpu_1x_a100@us-east-1"]);
      expect(offers[0]).toMatchObject({ gpuModel: "A100", gpuMemoryGiB: 40, pricePerHour: 1.29 });
      fake.scenarios.push("rate_limit");
      const error = await launchError(adapter, spec(offers[0]!, 1));
      expect(error.retryAfterMs).toBe(12_000);
    } finally {
      await fake.close();
    }
  });

  it("runpod: a GraphQL error inside an HTTP 200 is a failure, not a launch", async () => {
    const fake = await startFake("runpod");
    try {
      fake.scenarios.push("no_capacity");
      const adapter = adapterFor("runpod", fake.server.url);
      const [offer] = await adapter.listOffers();
      const error = await launchError(adapter, spec(offer!, 1));
      expect(error.reason).toBe("no_capacity");
      expect(fake.instances).toHaveLength(0);
    } finally {
      await fake.close();
    }
  });

  it("genesis: only types the availability endpoint reports available are offered", async () => {
    const fake = await startFake("genesis");
    try {
      const offers = await adapterFor("genesis", fake.server.url).listOffers();
      expect(offers.map((o) => o.gpuModel)).toEqual(["A100"]);
    } finally {
      await fake.close();
    }
  });

  it("aws: the Job requests nvidia.com/gpu, tolerates the GPU taint, requires the pool, and a repeated create is the same Job", async () => {
    const fake = (await startFake("aws")) as FakeProvider & { manifests: Map<string, unknown> };
    try {
      const adapter = adapterFor("aws", fake.server.url);
      const spot = (await adapter.listOffers()).find((o) => o.spot)!;
      const launchSpec = spec(spot, 1);
      const first = await adapter.launch(launchSpec, AbortSignal.timeout(5000));
      const second = await adapter.launch(launchSpec, AbortSignal.timeout(5000));
      expect(second.instanceId).toBe(first.instanceId);
      expect(fake.instances.filter((i) => i.state === "running")).toHaveLength(1);
      const manifest = fake.manifests.get(launchSpec.key) as { spec: { template: { spec: Record<string, unknown> } } };
      const pod = manifest.spec.template.spec as { containers: Array<{ resources: { limits: Record<string, string> } }>; tolerations: unknown[]; affinity: unknown };
      expect(pod.containers[0]!.resources.limits["nvidia.com/gpu"]).toBe("1");
      expect(pod.tolerations).toContainEqual({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" });
      expect(JSON.stringify(pod.affinity)).toContain('"values":["g5"]');
      expect(JSON.stringify(pod.affinity)).toContain('"values":["SPOT"]');
    } finally {
      await fake.close();
    }
  });
});
