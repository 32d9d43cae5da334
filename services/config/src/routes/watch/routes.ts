import { ErrorBody, httpErrors } from "@fundament/kit";
import { CursorAheadError } from "../../config-errors";
import { parseWait, watchEntry } from "../../watch";
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
      const waitMs = request.query.wait === undefined ? watch.defaultWaitMs : parseWait(request.query.wait);
      if (waitMs === undefined) throw httpErrors.badInput("querystring.wait", "must look like 30s, 500ms or a number of seconds");
      if (waitMs > watch.maxWaitMs) throw httpErrors.badInput("querystring.wait", `must be at most ${watch.maxWaitMs / 1000}s (got ${request.query.wait})`);
      await entries.requireNamespace(namespace);
      const current = await store.currentVersion(namespace, environment);
      if (request.query.sinceVersion > current) throw new CursorAheadError("querystring.sinceVersion", request.query.sinceVersion, current);
      const aborted = new AbortController();
      // The response's close before it ended means the client hung up: stop waiting for it.
      reply.raw.once("close", () => {
        if (!reply.raw.writableFinished) aborted.abort();
      });
      const result = await watchEntry(store, feed, {
        namespace,
        environment,
        sinceVersion: request.query.sinceVersion,
        waitMs,
        limit: request.query.limit ?? 100,
        signal: aborted.signal,
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
