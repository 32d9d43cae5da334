import { ErrorBody, actorOf } from "@fundament/kit";
import { EntryParams, parseIfMatch, WriteHeaders } from "../path-params";
import type { RouteContext } from "../route-context";
import { VersionBody } from "../entries/schemas";
import { RollbackBody, VersionList, VersionListQuery, VersionParams } from "./schemas";

const ENTRY = "/namespaces/:namespace/environments/:environment";

export function registerVersionRoutes({ readAccess, app, store, entries, requireWriter }: RouteContext): void {
  app.get(
    `${ENTRY}/versions`,
    {
      preHandler: readAccess,
      schema: {
        tags: ["versions"],
        summary: "History of an entry, oldest first, each version with its actor, reason and patch",
        params: EntryParams,
        querystring: VersionListQuery,
        response: { 200: VersionList, 404: ErrorBody },
      },
    },
    async (request) => {
      const { namespace, environment } = request.params;
      const versions = await store.versionsAfter(namespace, environment, request.query.after ?? 0, request.query.limit ?? 100);
      if (versions.length === 0) await entries.requireNamespace(namespace);
      return { versions };
    },
  );

  app.get(
    `${ENTRY}/versions/:version`,
    { preHandler: readAccess, schema: { tags: ["versions"], summary: "One version of an entry", params: VersionParams, response: { 200: VersionBody, 404: ErrorBody } } },
    async (request, reply) => {
      const { namespace, environment, version } = request.params;
      const record = await entries.requireVersion(namespace, environment, version);
      return reply.header("etag", `"${record.version}"`).send(record);
    },
  );

  app.post(
    `${ENTRY}/rollback`,
    {
      preHandler: requireWriter,
      schema: {
        tags: ["versions"],
        summary: "Make an earlier version's document current again, as a new version",
        security: [{ bearer: [] }],
        params: EntryParams,
        headers: WriteHeaders,
        body: RollbackBody,
        response: { 201: VersionBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 412: ErrorBody, 422: ErrorBody },
      },
    },
    async (request, reply) => {
      const ifMatch = parseIfMatch(request.headers["if-match"]);
      const record = await entries.rollback({
        namespace: request.params.namespace,
        environment: request.params.environment,
        toVersion: request.body.toVersion,
        reason: request.body.reason,
        actor: actorOf(request),
        ...(ifMatch === undefined ? {} : { ifMatch }),
      });
      return reply.status(201).header("etag", `"${record.version}"`).send(record);
    },
  );
}
