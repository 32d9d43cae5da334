export type Provider = "aws" | "runpod" | "vastai" | "lambda" | "paperspace" | "genesis" | "local";

export interface GpuOffer {
  provider: Provider;
  offerId: string;
  gpuModel: string;
  gpuMemoryGiB: number;
  gpuCount: number;
  region: string;
  spot: boolean;
  pricePerHour: number;
  reliability: number;
}

export interface GpuRequest {
  gpuCount: number;
  minGpuMemoryGiB: number;
  gpuModels?: string[];
  regions?: string[];
  maxPricePerHour?: number;
  spot: "allow" | "deny" | "only";
  estimatedHours: number;
}

/** One feasible offer with the key it is ordered by, computed once. */
interface Candidate {
  offer: GpuOffer;
  cost: number;
  /** Position in the input: two entries for the same provider:offerId keep their input order, as a stable sort would. */
  index: number;
}

/**
 * The offers meeting every constraint of the request, cheapest expected cost first
 * (pricePerHour × estimatedHours / reliability; ties by provider, then offerId), at most `limit`.
 *
 * With a limit, a bounded max-heap of the best `limit` candidates replaces a full sort: the
 * catalogue holds thousands of offers and placement wants the first few, so the work is
 * O(n log limit) instead of O(n log n), and nothing is allocated for the offers that lose.
 */
export function rankOffers(
  request: GpuRequest,
  offers: readonly GpuOffer[],
  options?: { blocked?: ReadonlySet<string>; limit?: number },
): GpuOffer[] {
  const limit = options?.limit === undefined ? undefined : Math.floor(options.limit);
  if (limit !== undefined && !(limit > 0)) return [];
  const accepts = feasibility(request, options?.blocked);
  const hours = request.estimatedHours;

  if (limit === undefined) {
    const all: Candidate[] = [];
    offers.forEach((offer, index) => {
      if (accepts(offer)) all.push({ offer, cost: (offer.pricePerHour * hours) / offer.reliability, index });
    });
    all.sort(compareCandidates);
    return all.map((candidate) => candidate.offer);
  }

  // heap[0] is the worst of the best `limit` seen so far.
  const heap: Candidate[] = [];
  for (let index = 0; index < offers.length; index += 1) {
    const offer = offers[index]!;
    if (!accepts(offer)) continue;
    const cost = (offer.pricePerHour * hours) / offer.reliability;
    if (heap.length < limit) {
      heap.push({ offer, cost, index });
      siftUp(heap, heap.length - 1);
    } else {
      const worst = heap[0]!;
      // Later in the input loses a full tie, so only a strictly better candidate gets in.
      if (cost < worst.cost || (cost === worst.cost && compareKeys(offer, worst.offer) < 0)) {
        heap[0] = { offer, cost, index };
        siftDown(heap, 0);
      }
    }
  }
  heap.sort(compareCandidates);
  return heap.map((candidate) => candidate.offer);
}

/** The offer's key in a `blocked` set, beside its provider's key. */
export function offerKey(offer: Pick<GpuOffer, "provider" | "offerId">): string {
  return `${offer.provider}:${offer.offerId}`;
}

function feasibility(request: GpuRequest, blocked: ReadonlySet<string> | undefined): (offer: GpuOffer) => boolean {
  const models = request.gpuModels === undefined ? undefined : new Set(request.gpuModels);
  const regions = request.regions === undefined ? undefined : new Set(request.regions);
  const maxPrice = request.maxPricePerHour;
  const spot = request.spot;
  const anyBlocked = blocked !== undefined && blocked.size > 0;
  return (offer) =>
    offer.gpuCount >= request.gpuCount &&
    offer.gpuMemoryGiB >= request.minGpuMemoryGiB &&
    offer.reliability > 0 &&
    (maxPrice === undefined || offer.pricePerHour <= maxPrice) &&
    (spot === "allow" || (spot === "only" ? offer.spot : !offer.spot)) &&
    (models === undefined || models.has(offer.gpuModel)) &&
    (regions === undefined || regions.has(offer.region)) &&
    !(anyBlocked && (blocked.has(offer.provider) || blocked.has(offerKey(offer))));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareKeys(a: GpuOffer, b: GpuOffer): number {
  return compareStrings(a.provider, b.provider) || compareStrings(a.offerId, b.offerId);
}

function compareCandidates(a: Candidate, b: Candidate): number {
  if (a.cost !== b.cost) return a.cost < b.cost ? -1 : 1;
  return compareKeys(a.offer, b.offer) || a.index - b.index;
}

// Max-heap by compareCandidates: the parent is never better than its children.
function siftUp(heap: Candidate[], index: number): void {
  const item = heap[index]!;
  while (index > 0) {
    const parent = (index - 1) >> 1;
    if (compareCandidates(heap[parent]!, item) >= 0) break;
    heap[index] = heap[parent]!;
    index = parent;
  }
  heap[index] = item;
}

function siftDown(heap: Candidate[], index: number): void {
  const item = heap[index]!;
  const size = heap.length;
  for (;;) {
    const left = 2 * index + 1;
    if (left >= size) break;
    const right = left + 1;
    const worse = right < size && compareCandidates(heap[right]!, heap[left]!) > 0 ? right : left;
    if (compareCandidates(heap[worse]!, item) <= 0) break;
    heap[index] = heap[worse]!;
    index = worse;
  }
  heap[index] = item;
}
