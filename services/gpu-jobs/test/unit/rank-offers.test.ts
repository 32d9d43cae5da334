import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rankOffers, type GpuOffer, type GpuRequest, type Provider } from "../../src/placement/rank-offers";

const providers: Provider[] = ["aws", "runpod", "vastai", "lambda", "paperspace", "genesis", "local"];
const models = ["A100", "H100", "L4", "RTX4090", "A10"];
const regions = ["us-east", "eu-west", "ap-south"];

// Small ranges on purpose: collisions in price, reliability and ids are where ordering bugs hide.
const offerArb: fc.Arbitrary<GpuOffer> = fc.record({
  provider: fc.constantFrom(...providers),
  offerId: fc.stringMatching(/^[a-c]{1,2}$/),
  gpuModel: fc.constantFrom(...models),
  gpuMemoryGiB: fc.constantFrom(16, 24, 40, 80),
  gpuCount: fc.integer({ min: 1, max: 8 }),
  region: fc.constantFrom(...regions),
  spot: fc.boolean(),
  pricePerHour: fc.oneof(fc.constantFrom(0, 0.5, 1, 2), fc.double({ min: 0, max: 40, noNaN: true })),
  reliability: fc.oneof(fc.constantFrom(0, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true })),
});

const requestArb: fc.Arbitrary<GpuRequest> = fc.record(
  {
    gpuCount: fc.integer({ min: 1, max: 8 }),
    minGpuMemoryGiB: fc.constantFrom(0, 16, 24, 40, 80),
    gpuModels: fc.subarray(models),
    regions: fc.subarray(regions),
    maxPricePerHour: fc.oneof(fc.constantFrom(0, 1, 2), fc.double({ min: 0, max: 40, noNaN: true })),
    spot: fc.constantFrom("allow" as const, "deny" as const, "only" as const),
    estimatedHours: fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 100, noNaN: true })),
  },
  { requiredKeys: ["gpuCount", "minGpuMemoryGiB", "spot", "estimatedHours"] },
);

const blockedArb = fc.array(fc.oneof(fc.constantFrom(...providers), fc.constantFrom(...providers).chain((p) => fc.stringMatching(/^[a-c]{1,2}$/).map((id) => `${p}:${id}`))), { maxLength: 4 });

/** The words, one by one: filter every constraint, stable-sort by cost then provider then offerId, cut. */
function reference(request: GpuRequest, offers: readonly GpuOffer[], blocked: ReadonlySet<string>, limit?: number): GpuOffer[] {
  const feasible = offers.filter((o) => {
    if (o.gpuCount < request.gpuCount) return false;
    if (o.gpuMemoryGiB < request.minGpuMemoryGiB) return false;
    if (request.gpuModels && !request.gpuModels.includes(o.gpuModel)) return false;
    if (request.regions && !request.regions.includes(o.region)) return false;
    if (request.maxPricePerHour !== undefined && o.pricePerHour > request.maxPricePerHour) return false;
    if (request.spot === "deny" && o.spot) return false;
    if (request.spot === "only" && !o.spot) return false;
    if (!(o.reliability > 0)) return false;
    if (blocked.has(o.provider) || blocked.has(`${o.provider}:${o.offerId}`)) return false;
    return true;
  });
  const cost = (o: GpuOffer) => (o.pricePerHour * request.estimatedHours) / o.reliability;
  const sorted = [...feasible].sort((a, b) => {
    const ca = cost(a);
    const cb = cost(b);
    if (ca !== cb) return ca - cb;
    if (a.provider !== b.provider) return a.provider < b.provider ? -1 : 1;
    if (a.offerId !== b.offerId) return a.offerId < b.offerId ? -1 : 1;
    return 0;
  });
  return limit === undefined ? sorted : sorted.slice(0, limit);
}

describe("rankOffers", () => {
  it("returns exactly the brute-force reference's offers, in its order, with and without a limit", () => {
    fc.assert(
      fc.property(requestArb, fc.array(offerArb, { maxLength: 60 }), blockedArb, fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }), (request, offers, blocked, limit) => {
        const blockedSet = new Set(blocked);
        const got = rankOffers(request, offers, { blocked: blockedSet, ...(limit === undefined ? {} : { limit }) });
        const want = reference(request, offers, blockedSet, limit);
        // Same objects, not just equal ones: two offers with the same key keep their input order.
        return got.length === want.length && got.every((offer, i) => offer === want[i]);
      }),
      { numRuns: 1000 },
    );
  });

  it("never returns an offer that breaks a constraint, and the first offer is the cheapest feasible one", () => {
    fc.assert(
      fc.property(requestArb, fc.array(offerArb, { minLength: 1, maxLength: 60 }), (request, offers) => {
        const ranked = rankOffers(request, offers, { limit: 3 });
        for (const o of ranked) {
          expect(o.gpuCount).toBeGreaterThanOrEqual(request.gpuCount);
          expect(o.gpuMemoryGiB).toBeGreaterThanOrEqual(request.minGpuMemoryGiB);
          expect(o.reliability).toBeGreaterThan(0);
          if (request.maxPricePerHour !== undefined) expect(o.pricePerHour).toBeLessThanOrEqual(request.maxPricePerHour);
        }
        const all = rankOffers(request, offers);
        expect(ranked).toEqual(all.slice(0, 3));
      }),
      { numRuns: 500 },
    );
  });

  it("blocks a whole provider or one provider:offerId", () => {
    const base: GpuOffer = { provider: "runpod", offerId: "a", gpuModel: "A100", gpuMemoryGiB: 80, gpuCount: 1, region: "us-east", spot: false, pricePerHour: 1, reliability: 1 };
    const offers: GpuOffer[] = [base, { ...base, offerId: "b", pricePerHour: 2 }, { ...base, provider: "vastai", offerId: "a", pricePerHour: 3 }];
    const request: GpuRequest = { gpuCount: 1, minGpuMemoryGiB: 40, spot: "allow", estimatedHours: 2 };
    expect(rankOffers(request, offers, { blocked: new Set(["runpod:a"]) }).map((o) => `${o.provider}:${o.offerId}`)).toEqual(["runpod:b", "vastai:a"]);
    expect(rankOffers(request, offers, { blocked: new Set(["runpod"]) }).map((o) => `${o.provider}:${o.offerId}`)).toEqual(["vastai:a"]);
  });

  it("ranks a cheap unreliable offer behind a dearer reliable one by expected cost", () => {
    const base: GpuOffer = { provider: "vastai", offerId: "cheap", gpuModel: "H100", gpuMemoryGiB: 80, gpuCount: 1, region: "eu-west", spot: true, pricePerHour: 2, reliability: 0.25 };
    const reliable: GpuOffer = { ...base, provider: "lambda", offerId: "steady", pricePerHour: 3, reliability: 1, spot: false };
    const ranked = rankOffers({ gpuCount: 1, minGpuMemoryGiB: 80, spot: "allow", estimatedHours: 10 }, [base, reliable]);
    expect(ranked.map((o) => o.offerId)).toEqual(["steady", "cheap"]);
    expect(rankOffers({ gpuCount: 1, minGpuMemoryGiB: 80, spot: "only", estimatedHours: 10 }, [base, reliable]).map((o) => o.offerId)).toEqual(["cheap"]);
  });
});
