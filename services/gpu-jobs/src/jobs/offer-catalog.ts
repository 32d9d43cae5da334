import type { Logger } from "@fundament/kit";
import type { GpuOffer, Provider } from "../placement/rank-offers";
import type { ProviderAdapter } from "../providers/provider-adapter";

interface CachedOffers {
  offers: GpuOffer[];
  fetchedAt: number;
}

/**
 * Every provider's offers, each list kept for `ttlMs` and fetched again after; a provider whose
 * listing fails contributes nothing until it answers again (its old offers are not trusted).
 * Reliability comes from the service's own attempt history per provider and GPU model.
 */
export class OfferCatalog {
  private readonly cache = new Map<Provider, CachedOffers>();

  constructor(
    private readonly adapters: ReadonlyMap<Provider, ProviderAdapter>,
    private readonly options: { ttlMs: number; logger: Logger; reliability: () => Promise<Map<string, number>>; now?: () => number },
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  async offers(skip: ReadonlySet<string> = new Set()): Promise<GpuOffer[]> {
    const lists = await Promise.all(
      [...this.adapters.values()].filter((adapter) => !skip.has(adapter.provider)).map(async (adapter) => {
        const cached = this.cache.get(adapter.provider);
        if (cached && this.now() - cached.fetchedAt < this.options.ttlMs) return cached.offers;
        try {
          const offers = await adapter.listOffers();
          this.cache.set(adapter.provider, { offers, fetchedAt: this.now() });
          return offers;
        } catch (error) {
          this.cache.delete(adapter.provider);
          this.options.logger.warn({ err: error, provider: adapter.provider }, "offer listing failed");
          return [];
        }
      }),
    );
    const learned = await this.options.reliability();
    return lists.flat().map((offer) => {
      const history = learned.get(`${offer.provider}:${offer.gpuModel}`);
      // The provider's own figure (Vast.ai's host reliability) and the history both count.
      return history === undefined ? offer : { ...offer, reliability: Math.min(offer.reliability, history) };
    });
  }

  /** After a failure the offer list of that provider is suspect: fetch it again next time. */
  invalidate(provider: Provider): void {
    this.cache.delete(provider);
  }
}
