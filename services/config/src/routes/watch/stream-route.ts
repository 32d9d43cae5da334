import type { ServerResponse } from "node:http";
import { ErrorBody, Type } from "@fundament/kit";
import { CursorAheadError } from "../../config-errors";
import type { VersionRecord } from "../../version-store";
import { EntryParams } from "../path-params";
import type { RouteContext } from "../route-context";

const StreamQuery = Type.Object(
  { sinceVersion: Type.Optional(Type.Integer({ minimum: 0, maximum: 2147483647, description: "start after this version (default: the current one)" })) },
  { additionalProperties: false },
);

/** EventSource resends the last `id:` it saw here when it reconnects; it wins over sinceVersion. */
const StreamHeaders = Type.Object({ "last-event-id": Type.Optional(Type.String({ pattern: "^[0-9]{1,10}$" })) });

const HEARTBEAT_MS = 15_000;
const BATCH = 100;

function sendVersion(raw: ServerResponse, record: VersionRecord): void {
  raw.write(`id: ${record.version}\nevent: version\ndata: ${JSON.stringify(record)}\n\n`);
}

/**
 * Server-sent events: every version after the starting point, then each new one as it is
 * written on any replica. The event id is the version, so a reconnecting EventSource resumes
 * exactly where it stopped. A comment line every 15 s keeps proxies from closing an idle stream.
 */
export function registerStreamRoute({ readAccess, app, store, entries, feed }: RouteContext): void {
  app.get(
    "/namespaces/:namespace/environments/:environment/stream",
    {
      preHandler: readAccess,
      schema: {
        tags: ["watch"],
        summary: "Server-sent events: one `version` event per version, id = version; resumes from Last-Event-ID",
        params: EntryParams,
        querystring: StreamQuery,
        headers: StreamHeaders,
        produces: ["text/event-stream"],
        response: { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const { namespace, environment } = request.params;
      await entries.requireNamespace(namespace);
      const lastEventId = request.headers["last-event-id"];
      const current = await store.currentVersion(namespace, environment);
      let since = lastEventId !== undefined ? Number(lastEventId) : (request.query.sinceVersion ?? current);
      if (since > current) throw new CursorAheadError(lastEventId !== undefined ? "headers.last-event-id" : "querystring.sinceVersion", since, current);

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
      raw.write(`retry: 1000\n: streaming ${namespace}/${environment} after version ${since}\n\n`);
      let clientGone = false;
      raw.once("close", () => {
        clientGone = true;
      });
      try {
        while (!clientGone) {
          const subscription = feed.subscribe(namespace, environment);
          let heartbeat: NodeJS.Timeout | undefined;
          let stopWaiting: () => void = () => undefined;
          try {
            const versions = await store.versionsAfter(namespace, environment, since, BATCH);
            for (const record of versions) {
              sendVersion(raw, record);
              since = record.version;
            }
            if (versions.length === BATCH) continue;
            if (feed.closing) break;
            const gone = new Promise<"gone">((resolve) => {
              stopWaiting = () => resolve("gone");
              raw.once("close", stopWaiting);
            });
            const beat = new Promise<"heartbeat">((resolve) => {
              heartbeat = setTimeout(() => resolve("heartbeat"), HEARTBEAT_MS);
            });
            const woke = await Promise.race([subscription.next, beat, gone]);
            if (woke === "heartbeat") raw.write(": keepalive\n\n");
            if (woke === "closing") break;
          } finally {
            subscription.cancel();
            clearTimeout(heartbeat);
            raw.off("close", stopWaiting);
          }
        }
        // The replica is stopping: say so, so the client reconnects (to another replica) at once.
        if (!clientGone) raw.write(`event: closing\ndata: {"lastVersion":${since}}\n\n`);
      } catch (err) {
        request.log.warn({ err }, "config stream ended by an error");
        if (!clientGone) raw.write(`event: error\ndata: {"message":"stream interrupted; reconnect with Last-Event-ID"}\n\n`);
      } finally {
        raw.end();
      }
    },
  );
}
