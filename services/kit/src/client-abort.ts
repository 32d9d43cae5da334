import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";

/** What one part of the spine records of a request its client gave up on. */
export type AbortHandler = (request: FastifyRequest, reply: FastifyReply) => void;

const WATCHED_REPLY = Symbol("fundament.clientAborts.reply");
type WatchedResponse = ServerResponse & { [WATCHED_REPLY]?: FastifyReply };

/**
 * Calls each added handler for a request whose client closed the connection before the route had
 * answered. Such a response never finishes, so Fastify runs no onResponse hook for it: without
 * this, the requests a caller or the gateway timed out (often the slowest there were) would be
 * missing from the latency histogram, the access log and the traces.
 *
 * Not Fastify's onRequestAbort hook: it fires only while a request body is still arriving, so a
 * POST whose body was read and whose handler was still working when the client left would pass
 * unseen. The response's close comes in every case. A response the route had already ended
 * counts as answered, even if the client left while its last bytes were being flushed.
 */
export class ClientAborts {
  private readonly handlers: AbortHandler[] = [];
  // One listener shared by every response (it reads the reply off `this`), so watching a request
  // allocates nothing.
  private readonly closeListener: (this: WatchedResponse) => void;

  constructor() {
    const handlers = this.handlers;
    this.closeListener = function (this: WatchedResponse) {
      const reply = this[WATCHED_REPLY];
      // Sent: the route answered, or took the response over (an event stream, where a hang-up is
      // the normal end). Errored: the server destroyed it, and Fastify ran onResponse on the error.
      if (!reply || reply.sent || this.errored) return;
      for (const handler of handlers) handler(reply.request, reply);
    };
  }

  add(handler: AbortHandler): void {
    this.handlers.push(handler);
  }

  /** Watches one request from its arrival; the kit's log controller calls it for every request. */
  watch(reply: FastifyReply): void {
    if (this.handlers.length === 0) return;
    const response = reply.raw as WatchedResponse;
    response[WATCHED_REPLY] = reply;
    response.on("close", this.closeListener);
  }
}
