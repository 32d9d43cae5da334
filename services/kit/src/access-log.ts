import { LogController, type FastifyReply, type FastifyRequest } from "fastify";
import type { ClientAborts } from "./client-abort";
import { routeTemplate } from "./metrics";

/** Probes every few seconds would drown the request lines that matter. */
const HEALTH_PREFIX = "/health/";

/**
 * One access line per request, written when the response is done: method, URL, route template,
 * status and duration together, the way pino-http logs a request. Fastify's default writes an
 * "incoming request" line first and a completed line that lacks the method and URL, so reading
 * one request took two lines and doubled the log volume (and the per-request logging work at
 * info, the deployed level). The arrival line stays at debug: LOG_LEVEL=debug shows requests that
 * arrived and never finished.
 *
 * Fastify tells a log controller of every request as it arrives, before any hook, so this one
 * also hands each request to `aborts` (a hook would cost every request of every service a pass
 * through Fastify's hook runner).
 */
export class AccessLogController extends LogController {
  constructor(
    enabled: boolean,
    private readonly aborts: ClientAborts,
  ) {
    super({ disableRequestLogging: enabled ? (request) => (request.url ?? "").startsWith(HEALTH_PREFIX) : true });
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    this.aborts.watch(reply);
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    const line = accessLine(request, reply, reply);
    if (error) reply.log.error({ ...line, err: error }, "request errored");
    else reply.log.info(line, "request completed");
  }

  /** Its client closed the connection first: no response line will come, so this is the request's line. */
  readonly requestAborted = (request: FastifyRequest, reply: FastifyReply): void => {
    if (this.isLogDisabled(request)) return;
    reply.log.info({ ...accessLine(request, reply, reply.raw.headersSent ? reply : undefined), aborted: true }, "request aborted by the client");
  };
}

/** What every access line holds; `res` (the status) only when a response was sent, pino leaves out an undefined one. */
function accessLine(request: FastifyRequest, reply: FastifyReply, res: FastifyReply | undefined) {
  return { req: request, route: routeTemplate(request), res, responseTime: reply.elapsedTime };
}
