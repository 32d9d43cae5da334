import { ErrorBody, Type } from "@fundament/kit";
import type { RouteContext } from "../route-context";

export function registerQueueRoutes({ app, requireSubmitter, queues }: RouteContext): void {
  app.get(
    "/queues",
    { preHandler: requireSubmitter, schema: { tags: ["queues"], summary: "Depth and age per queue, workers, recent failures", security: [{ bearer: [] }], response: { 200: Type.Unknown(), 401: ErrorBody, 403: ErrorBody } } },
    async () => queues(),
  );
}
