import { clientGone, ErrorBody, requestedWait } from "@fundament/kit";
import { CursorAheadError } from "../../config-errors";
import { watchEntry } from "../../watch";
import { EntryParams } from "../path-params";
import type { RouteContext } from "../route-context";
import { WatchBody, WatchQuery } from "./schemas";

export function registerWatchRoutes({ readAccess, app, store, entries, feed, watch }: RouteContext): void {
  app.get(
    "/namespaces/:namespace/environments/:environment/watch",
    {
      preHandler: readAccess,
      schema: {
        tags: ["watch"],
        summary: "Long poll: versions newer than sinceVersion, waiting up to `wait` for one to be written (on any replica)",
        params: EntryParams,
        querystring: WatchQuery,
        response: { 200: WatchBody, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { namespace, environment } = request.params;
      const waitMs = requestedWait(request.query.wait, watch);
      await entries.requireNamespace(namespace);
      const current = await store.currentVersion(namespace, environment);
      if (request.query.sinceVersion > current) throw new CursorAheadError("querystring.sinceVersion", request.query.sinceVersion, current);
      const result = await watchEntry(store, feed, {
        namespace,
        environment,
        sinceVersion: request.query.sinceVersion,
        waitMs,
        limit: request.query.limit ?? 100,
        signal: clientGone(reply.raw),
      });
      const last = result.versions[result.versions.length - 1];
      return {
        versions: result.versions,
        nextSinceVersion: last?.version ?? request.query.sinceVersion,
        outcome: result.outcome === "aborted" ? ("closing" as const) : result.outcome,
      };
    },
  );
}
