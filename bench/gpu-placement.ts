// `npm run bench -- gpu-placement`: rankOffers with limit 10 over 10,000 generated offers against
// a baseline that filters the same offers with the same constraints and fully sorts them, in
// alternating rounds. Both must return the same offers in the same order (checked every round).
// Ratio = baseline p50 ÷ rankOffers p50; target ≥ 2.
import { rankOffers, type GpuOffer, type GpuRequest, type Provider } from "../services/gpu-jobs/src/placement/rank-offers";
import { numericSetting } from "./support/bench-settings";

const OFFERS = numericSetting("BENCH_OFFERS", 10_000);
const ROUNDS = numericSetting("BENCH_ROUNDS", 400);
const LIMIT = 10;

/** Deterministic offers (mulberry32) so every run measures the same catalogue. */
function generateOffers(count: number, seed: number): GpuOffer[] {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const providers: Provider[] = ["aws", "runpod", "vastai", "lambda", "paperspace", "genesis"];
  const models: Array<[string, number]> = [["H100", 80], ["A100", 80], ["A100", 40], ["L40S", 48], ["RTX4090", 24], ["A10", 24], ["L4", 24]];
  const regions = ["us-east-1", "us-west-2", "eu-central-1", "eu-west-1", "ap-southeast-1"];
  return Array.from({ length: count }, (_, i) => {
    const [gpuModel, gpuMemoryGiB] = models[Math.floor(random() * models.length)]!;
    const gpuCount = [1, 1, 1, 2, 4, 8][Math.floor(random() * 6)]!;
    return {
      provider: providers[Math.floor(random() * providers.length)]!,
      offerId: `offer-${i}`,
      gpuModel,
      gpuMemoryGiB,
      gpuCount,
      region: regions[Math.floor(random() * regions.length)]!,
      spot: random() < 0.4,
      pricePerHour: Math.round((0.2 + random() * 4) * gpuCount * 100) / 100,
      reliability: random() < 0.02 ? 0 : 0.5 + random() * 0.5,
    };
  });
}

/** The obvious implementation: filter, compute the key inside the comparator, sort everything, cut. */
function baseline(request: GpuRequest, offers: readonly GpuOffer[], blocked: ReadonlySet<string>, limit: number): GpuOffer[] {
  const cost = (o: GpuOffer) => (o.pricePerHour * request.estimatedHours) / o.reliability;
  return offers
    .filter(
      (o) =>
        o.gpuCount >= request.gpuCount &&
        o.gpuMemoryGiB >= request.minGpuMemoryGiB &&
        (!request.gpuModels || request.gpuModels.includes(o.gpuModel)) &&
        (!request.regions || request.regions.includes(o.region)) &&
        (request.maxPricePerHour === undefined || o.pricePerHour <= request.maxPricePerHour) &&
        (request.spot === "allow" || (request.spot === "only") === o.spot) &&
        o.reliability > 0 &&
        !blocked.has(o.provider) &&
        !blocked.has(`${o.provider}:${o.offerId}`),
    )
    .sort((a, b) => cost(a) - cost(b) || (a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0) || (a.offerId < b.offerId ? -1 : a.offerId > b.offerId ? 1 : 0))
    .slice(0, limit);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function timeOnce(run: () => GpuOffer[]): { ms: number; result: GpuOffer[] } {
  const started = process.hrtime.bigint();
  const result = run();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

function main(): void {
  const offers = generateOffers(OFFERS, 42);
  // A broad request (most offers feasible), the case where sorting everything costs the most.
  const request: GpuRequest = { gpuCount: 1, minGpuMemoryGiB: 24, spot: "allow", estimatedHours: 6, maxPricePerHour: 30 };
  const blocked = new Set(["genesis:offer-17", "paperspace:offer-99"]);
  const feasible = baseline(request, offers, blocked, Number.MAX_SAFE_INTEGER).length;
  console.log(`${OFFERS} offers, ${feasible} feasible, limit ${LIMIT}, ${ROUNDS} rounds`);

  for (let i = 0; i < 30; i += 1) {
    rankOffers(request, offers, { blocked, limit: LIMIT });
    baseline(request, offers, blocked, LIMIT);
  }
  const ranked: number[] = [];
  const sorted: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    // Alternate which goes first, so neither always runs on a warmer heap or a quieter machine.
    const order = round % 2 === 0 ? (["rank", "base"] as const) : (["base", "rank"] as const);
    const results: Partial<Record<"rank" | "base", GpuOffer[]>> = {};
    for (const which of order) {
      const timed = which === "rank" ? timeOnce(() => rankOffers(request, offers, { blocked, limit: LIMIT })) : timeOnce(() => baseline(request, offers, blocked, LIMIT));
      (which === "rank" ? ranked : sorted).push(timed.ms);
      results[which] = timed.result;
    }
    const a = results.rank!;
    const b = results.base!;
    if (a.length !== b.length || a.some((offer, i) => offer !== b[i])) {
      throw new Error(`round ${round}: rankOffers and the baseline disagree: ${JSON.stringify(a.map((o) => o.offerId))} vs ${JSON.stringify(b.map((o) => o.offerId))}`);
    }
  }
  console.log(`rankOffers (bounded heap): p50 ${percentile(ranked, 50).toFixed(3)} ms, p99 ${percentile(ranked, 99).toFixed(3)} ms`);
  console.log(`baseline (filter + full sort): p50 ${percentile(sorted, 50).toFixed(3)} ms, p99 ${percentile(sorted, 99).toFixed(3)} ms`);
  console.log(`identical results in all ${ROUNDS} rounds`);
  console.log(`gpu-placement: ratio ${(percentile(sorted, 50) / percentile(ranked, 50)).toFixed(2)}`);
}

main();
