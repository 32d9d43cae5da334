import { clientGone, ErrorBody, requestedWait, Type, WaitParameter } from "@fundament/kit";
import { watchEffective } from "../../watch";
import { EffectiveBody } from "../entries/schemas";
import { EntryParams } from "../path-params";
import type { RouteContext } from "../route-context";

const EffectiveWatchQuery = Type.Object(
  {
    baseVersion: Type.Integer({ minimum: 0, maximum: 2147483647, description: "baseVersion of the effective document the watcher has" }),
    version: Type.Integer({ minimum: 0, maximum: 2147483647, description: "version of the effective document the watcher has" }),
    wait: WaitParameter,
  },
  { additionalProperties: false },
);

const EffectiveWatchBody = Type.Object(
  {
    outcome: Type.Union([Type.Literal("changed"), Type.Literal("timeout"), Type.Literal("closing")]),
    baseVersion: Type.Integer(),
    version: Type.Integer(),
    /** Present when the outcome is "changed": the effective document now. */
    effective: Type.Optional(EffectiveBody),
  },
  { title: "EffectiveWatchResult" },
);

export function registerEffectiveWatchRoute({ app, store, entries, feed, watch, readAccess }: RouteContext): void {
  app.get(
    "/namespaces/:namespace/environments/:environment/effective/watch",
    {
      preHandler: readAccess,
      schema: {
        tags: ["watch"],
        summary: "Long poll on the effective document: wakes when the base or the environment's entry changes",
        params: EntryParams,
        querystring: EffectiveWatchQuery,
        response: { 200: EffectiveWatchBody, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { namespace, environment } = request.params;
      const waitMs = requestedWait(request.query.wait, watch);
      await entries.requireNamespace(namespace);
      const result = await watchEffective(store, entries, feed, {
        namespace,
        environment,
        baseVersion: request.query.baseVersion,
        version: request.query.version,
        waitMs,
        signal: clientGone(reply.raw),
      });
      if (result.outcome === "changed") {
        return { outcome: "changed" as const, baseVersion: result.effective.baseVersion, version: result.effective.version, effective: result.effective };
      }
      return { outcome: result.outcome === "aborted" ? ("closing" as const) : result.outcome, baseVersion: result.baseVersion, version: result.version };
    },
  );
}
