import { ErrorBody, Type } from "@fundament/kit";
import { rankOffers } from "../../placement/rank-offers";
import type { RouteContext } from "../route-context";

const OfferBody = Type.Object({
  provider: Type.String(),
  offerId: Type.String(),
  gpuModel: Type.String(),
  gpuMemoryGiB: Type.Number(),
  gpuCount: Type.Integer(),
  region: Type.String(),
  spot: Type.Boolean(),
  pricePerHour: Type.Number(),
  reliability: Type.Number(),
  expectedCostUsd: Type.Number(),
});

const OffersQuery = Type.Object(
  {
    gpuCount: Type.Integer({ minimum: 1, maximum: 16 }),
    minGpuMemoryGiB: Type.Number({ minimum: 0, maximum: 1024, default: 0 }),
    gpuModels: Type.Optional(Type.String({ description: "comma-separated", pattern: "^[^,]+(,[^,]+)*$" })),
    regions: Type.Optional(Type.String({ description: "comma-separated", pattern: "^[^,]+(,[^,]+)*$" })),
    maxPricePerHour: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    spot: Type.Union([Type.Literal("allow"), Type.Literal("deny"), Type.Literal("only")], { default: "allow" }),
    estimatedHours: Type.Number({ exclusiveMinimum: 0, maximum: 8760, default: 1 }),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 20 }),
  },
  { additionalProperties: false },
);

export function registerOfferRoutes({ app, catalog, requireSubmitter }: RouteContext): void {
  app.get(
    "/offers",
    { preHandler: requireSubmitter, schema: { tags: ["offers"], summary: "Current offers for a request, cheapest expected cost first", security: [{ bearer: [] }], querystring: OffersQuery, response: { 200: Type.Object({ offers: Type.Array(OfferBody) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody } } },
    async (request) => {
      const q = request.query;
      const gpuRequest = {
        gpuCount: q.gpuCount,
        minGpuMemoryGiB: q.minGpuMemoryGiB ?? 0,
        spot: q.spot ?? "allow",
        estimatedHours: q.estimatedHours ?? 1,
        ...(q.gpuModels ? { gpuModels: q.gpuModels.split(",") } : {}),
        ...(q.regions ? { regions: q.regions.split(",") } : {}),
        ...(q.maxPricePerHour === undefined ? {} : { maxPricePerHour: q.maxPricePerHour }),
      };
      const ranked = rankOffers(gpuRequest, await catalog.offers(), { limit: q.limit ?? 20 });
      return { offers: ranked.map((offer) => ({ ...offer, expectedCostUsd: (offer.pricePerHour * gpuRequest.estimatedHours) / offer.reliability })) };
    },
  );
}
