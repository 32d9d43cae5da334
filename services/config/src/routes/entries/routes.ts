import type { FastifyReply } from "fastify";
import { ErrorBody, actorOf } from "@fundament/kit";
import type { JsonObject } from "../../json-patch";
import { EntryParams, parseIfMatch, WriteHeaders } from "../path-params";
import type { RouteContext } from "../route-context";
import type { AtLeast } from "../../config-entries";
import { EffectiveBody, EffectiveReadQuery, EntryReadQuery, VersionBody, WriteBody } from "./schemas";

const ENTRY = "/namespaces/:namespace/environments/:environment";

const known = (version: number | undefined, field: string): AtLeast => ({ version: version ?? 0, field: `querystring.${field}` });

/**
 * Sends JSON text the replica already holds as is: a string with a JSON content type skips
 * parse and serialize. The route's response schema still documents the shape the text has.
 */
function sendHeldJson(reply: FastifyReply, text: string): FastifyReply {
  return reply.type("application/json; charset=utf-8").send(text);
}

/** A held VersionRecord's text, its version as the ETag a later If-Match names. */
function sendVersion(reply: FastifyReply, current: { version: number; json: string }): FastifyReply {
  return sendHeldJson(reply.header("etag", `"${current.version}"`), current.json);
}

export function registerEntryRoutes({ readAccess, app, entries, requireWriter }: RouteContext): void {
  app.get(
    ENTRY,
    {
      preHandler: readAccess,
      schema: {
        tags: ["entries"],
        summary:
          "The current version of an environment's own entry (from the replica's in-process copy, with Redis and PostgreSQL behind it); minVersion reads back a write made through another replica",
        params: EntryParams,
        querystring: EntryReadQuery,
        response: { 200: VersionBody, 400: ErrorBody, 404: ErrorBody },
      },
    },
    (request, reply) => {
      const { namespace, environment } = request.params;
      const atLeast = known(request.query.minVersion, "minVersion");
      // The held text is a serialized VersionRecord. A held copy goes out in the turn the request
      // arrived, as the effective read's does; anything else goes through Redis or PostgreSQL.
      const held = entries.heldCurrentJson(namespace, environment, atLeast);
      if (held === undefined) return entries.requireCurrentJson(namespace, environment, atLeast).then((current) => void sendVersion(reply, current));
      sendVersion(reply, held);
      return undefined;
    },
  );

  app.put(
    ENTRY,
    {
      preHandler: requireWriter,
      schema: {
        tags: ["entries"],
        summary: "Write a new version; If-Match: <version> refuses it (412) when someone else wrote first",
        security: [{ bearer: [] }],
        params: EntryParams,
        headers: WriteHeaders,
        body: WriteBody,
        response: { 201: VersionBody, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 412: ErrorBody, 422: ErrorBody },
      },
    },
    async (request, reply) => {
      const ifMatch = parseIfMatch(request.headers["if-match"]);
      const record = await entries.write({
        namespace: request.params.namespace,
        environment: request.params.environment,
        document: request.body.document as JsonObject,
        reason: request.body.reason,
        actor: actorOf(request),
        ...(ifMatch === undefined ? {} : { ifMatch }),
      });
      return reply.status(201).header("etag", `"${record.version}"`).send(record);
    },
  );

  app.get(
    `${ENTRY}/effective`,
    {
      preHandler: readAccess,
      schema: {
        tags: ["entries"],
        summary: "What the environment's consumers read: the base entry with the environment's overlay merged in (RFC 7396)",
        params: EntryParams,
        querystring: EffectiveReadQuery,
        response: { 200: EffectiveBody, 400: ErrorBody, 404: ErrorBody },
      },
    },
    (request, reply) => {
      const { namespace, environment } = request.params;
      const atLeast = known(request.query.minVersion, "minVersion");
      const baseAtLeast = known(request.query.minBaseVersion, "minBaseVersion");
      // What consumers poll: made from copies this replica holds, it is sent in the same turn as
      // text made once per pair of copies; anything else goes through Redis or PostgreSQL.
      const held = entries.heldEffectiveJson(namespace, environment, atLeast, baseAtLeast);
      if (held === undefined) return entries.effective(namespace, environment, atLeast, baseAtLeast);
      sendHeldJson(reply, held);
      return undefined;
    },
  );
}
