import type { GpuOffer } from "../placement/rank-offers";

/** A catalogue entry from configuration, for providers whose API has no price list (aws, genesis, paperspace). */
export interface ConfiguredOffer {
  /** The provider's instance or machine type (aws: the node pool name). */
  type: string;
  gpuModel: string;
  gpuMemoryGiB: number;
  gpuCount: number;
  region: string;
  spot: boolean;
  pricePerHour: number;
}

export function offersFromTable(provider: GpuOffer["provider"], table: readonly ConfiguredOffer[], reliability: number): GpuOffer[] {
  return table.map((entry) => ({
    provider,
    offerId: `${entry.type}@${entry.region}${entry.spot ? "|spot" : ""}`,
    gpuModel: entry.gpuModel,
    gpuMemoryGiB: entry.gpuMemoryGiB,
    gpuCount: entry.gpuCount,
    region: entry.region,
    spot: entry.spot,
    pricePerHour: entry.pricePerHour,
    reliability,
  }));
}

/** The type and region back out of an offerId made by offersFromTable. */
export function tableEntryOf(offerId: string): { type: string; region: string; spot: boolean } {
  const [typeAndRegion = "", spot] = offerId.split("|");
  const at = typeAndRegion.lastIndexOf("@");
  return { type: typeAndRegion.slice(0, at), region: typeAndRegion.slice(at + 1), spot: spot === "spot" };
}
