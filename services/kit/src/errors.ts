import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Type, type Static } from "@fastify/type-provider-typebox";

/** The one error body every service answers with. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "Stable machine-readable code, e.g. VALIDATION_FAILED" }),
      message: Type.String({ description: "Human-readable; for bad input it starts with the field" }),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { title: "Error" },
);
export type ErrorBody = Static<typeof ErrorBody>;

export interface FieldProblem {
  /** Where the bad value was: body.email, query.limit, params.id, headers.authorization. */
  field: string;
  reason: string;
}

/** An error a route throws on purpose; its message is safe to show to the caller. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Extra response headers (Retry-After, WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export const httpErrors = {
  badInput(field: string, reason: string): HttpError {
    return new HttpError(400, "VALIDATION_FAILED", `${field}: ${reason}`, [{ field, reason }]);
  },
  unauthorized(message = "authentication required", code = "UNAUTHORIZED"): HttpError {
    return new HttpError(401, code, message, undefined, { "www-authenticate": "Bearer" });
  },
  forbidden(message = "not allowed", code = "FORBIDDEN"): HttpError {
    return new HttpError(403, code, message);
  },
  notFound(what: string): HttpError {
    return new HttpError(404, "NOT_FOUND", `${what} not found`);
  },
  conflict(message: string, code = "CONFLICT", details?: unknown): HttpError {
    return new HttpError(409, code, message, details);
  },
  tooManyRequests(retryAfterSeconds: number, message = "too many requests"): HttpError {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    return new HttpError(429, "RATE_LIMITED", message, { retryAfterSeconds: seconds }, { "retry-after": String(seconds) });
  },
  unavailable(message: string, code = "UNAVAILABLE", details?: unknown): HttpError {
    return new HttpError(503, code, message, details);
  },
};

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Turns one Ajv issue into `body.email`-style field plus a reason. */
export function fieldProblem(context: string, issue: AjvIssue): FieldProblem {
  const segments = (issue.instancePath ?? "")
    .split("/")
    .filter((s) => s !== "")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  const params = issue.params ?? {};
  let reason = issue.message ?? "is invalid";
  if (issue.keyword === "required" && typeof params.missingProperty === "string") {
    segments.push(params.missingProperty);
    reason = "is required";
  } else if (issue.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    segments.push(params.additionalProperty);
    reason = "is not an allowed property";
  }
  const field = [context, ...segments].join(".");
  return { field, reason };
}

function problemsOf(error: FastifyError): FieldProblem[] {
  const context = error.validationContext ?? "body";
  return (error.validation ?? []).map((issue) => fieldProblem(context, issue as AjvIssue));
}

function send(reply: FastifyReply, status: number, code: string, message: string, details?: unknown): FastifyReply {
  const body: ErrorBody = { error: details === undefined ? { code, message } : { code, message, details } };
  return reply.status(status).type("application/json; charset=utf-8").send(body);
}

/** Fastify's own 4xx codes whose messages name no internals, mapped to the field they concern. */
const FRAMEWORK_FIELDS: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "body",
  FST_ERR_CTP_EMPTY_JSON_BODY: "body",
  FST_ERR_CTP_BODY_TOO_LARGE: "body",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "headers.content-type",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "headers.content-length",
  FST_ERR_CTP_INVALID_TYPE: "headers.content-type",
};

export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof HttpError) {
    for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
    if (error.statusCode >= 500) request.log.warn({ code: error.code }, error.message);
    return send(reply, error.statusCode, error.code, error.message, error.details);
  }
  if (error.validation) {
    const problems = problemsOf(error);
    const message = problems.map((p) => `${p.field}: ${p.reason}`).join("; ") || "invalid request";
    return send(reply, 400, "VALIDATION_FAILED", message, problems);
  }
  const status = typeof error.statusCode === "number" ? error.statusCode : 500;
  if (status >= 400 && status < 500) {
    const field = error.code ? FRAMEWORK_FIELDS[error.code] : undefined;
    // A JSON syntax error from the parser has no code but a 400 status; it concerns the body.
    const where = field ?? (error instanceof SyntaxError ? "body" : undefined);
    const reason = error.message;
    const message = where ? `${where}: ${reason}` : error.message;
    const details = where ? [{ field: where, reason }] : undefined;
    return send(reply, status, error.code ?? "BAD_REQUEST", message, details);
  }
  request.log.error({ err: error }, "request failed");
  return send(reply, status >= 500 && status < 600 ? status : 500, "INTERNAL", "internal error");
}

export function installErrorFormat(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => send(reply, 404, "NOT_FOUND", `route ${request.method} ${request.url.split("?")[0]} not found`));
}
