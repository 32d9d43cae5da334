import type { FastifyInstance, FastifyRequest } from "fastify";
import { context, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { Resource } from "@opentelemetry/resources";
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, type Sampler } from "@opentelemetry/sdk-trace-base";
import type { ClientAborts } from "./client-abort";
import { routeTemplate } from "./metrics";
import { ensureContextManager, extractTraceContext } from "./trace-context";

export interface TracingOptions {
  service: string;
  version?: string;
  /** OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT), e.g. http://jaeger:4318; /v1/traces is appended. */
  endpoint: string;
  /** How long spans wait to be sent in one batch. */
  scheduledDelayMs?: number;
  exportTimeoutMs?: number;
  /** Which traces are recorded; every one when omitted (tracingFromEnv reads OTEL_TRACES_SAMPLER). */
  sampler?: Sampler;
}

export interface Tracing {
  readonly tracer: Tracer;
  /** Sends what is buffered and stops; run last at shutdown. */
  shutdown(): Promise<void>;
}

function tracesUrl(endpoint: string): string {
  const trimmed = endpoint.replace(/\/+$/, "");
  return trimmed.endsWith("/v1/traces") ? trimmed : `${trimmed}/v1/traces`;
}

/** A tracer provider of this service exporting batches over OTLP/HTTP (Jaeger accepts it natively). */
export function startTracing(options: TracingOptions): Tracing {
  const exporter = new OTLPTraceExporter({ url: tracesUrl(options.endpoint), timeoutMillis: options.exportTimeoutMs ?? 5000 });
  const provider = new BasicTracerProvider({
    resource: new Resource({ "service.name": options.service, "service.version": options.version ?? "0.1.0" }),
    // Given always, so the SDK never reads OTEL_TRACES_SAMPLER behind the kit's back (tracing-env.ts).
    sampler: options.sampler ?? new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: options.scheduledDelayMs ?? 2000 })],
  });
  return {
    tracer: provider.getTracer("@fundament/kit"),
    shutdown: () => provider.shutdown(),
  };
}

/** Where a request keeps its span: a property Fastify declares on every request (a WeakMap costs each request a GC-tracked entry). */
const TRACED = Symbol("fundament.tracing.span");
type TracedRequest = FastifyRequest & { [TRACED]: { span: Span; active: Context } | null };

/**
 * One SERVER span per request, named by method and route template, continuing the caller's
 * trace when a W3C `traceparent` header came with it (the gateway or another service). The span
 * is the active context while the request's hooks and handler run, so what they publish (directly
 * or through an outbox) carries it on as the parent of the consumer's span.
 */
export function instrumentTracing(app: FastifyInstance, tracer: Tracer, aborts: ClientAborts): void {
  ensureContextManager();
  app.decorateRequest(TRACED, null);
  const tracedOf = (request: FastifyRequest) => (request as TracedRequest)[TRACED];
  app.addHook("onRequest", (request, reply, done) => {
    const parent = extractTraceContext(request.headers);
    const route = routeTemplate(request);
    const span = tracer.startSpan(`${request.method} ${route}`, { kind: SpanKind.SERVER }, parent);
    // Set after the sampler decided rather than passed to startSpan, which sanitizes them even
    // for a span that is not recorded; the kit's samplers do not read attributes.
    if (span.isRecording()) span.setAttributes({ "http.request.method": request.method, "http.route": route, "url.path": request.url.split("?")[0] ?? "" });
    const active = trace.setSpan(parent, span);
    (request as TracedRequest)[TRACED] = { span, active };
    // Every line the request writes (its handler's, the error handler's, its access line) names
    // the trace, so a log line leads to its trace in Jaeger and a slow trace to its log lines;
    // trace_flags (W3C, "01" recorded, "00" not) says whether Jaeger has it, as OpenTelemetry's
    // pino instrumentation writes it.
    const { traceId, spanId, traceFlags } = span.spanContext();
    const log = request.log.child({ trace_id: traceId, span_id: spanId, trace_flags: traceFlags.toString(16).padStart(2, "0") });
    request.log = log;
    reply.log = log;
    context.with(active, done);
  });
  // The body is read on socket events, outside the context entered above: enter it again for
  // the validation, pre-handlers and handler that follow.
  app.addHook("preValidation", (request, _reply, done) => {
    const traced = tracedOf(request);
    if (traced) context.with(traced.active, done);
    else done();
  });
  app.addHook("onError", (request, _reply, error, done) => {
    tracedOf(request)?.span.recordException(error);
    done();
  });
  /** Ends the request's span, once: `mark` sets what its outcome says. */
  const endSpan = (request: FastifyRequest, mark: (span: Span) => void) => {
    const span = tracedOf(request)?.span;
    if (!span) return;
    (request as TracedRequest)[TRACED] = null;
    mark(span);
    span.end();
  };
  app.addHook("onResponse", (request, reply, done) => {
    endSpan(request, (span) => {
      span.setAttribute("http.response.status_code", reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    });
    done();
  });
  // As OpenTelemetry's HTTP conventions have it for a connection dropped before the response was
  // sent: an error, with its type, and the status code only if the headers had gone out.
  aborts.add((request, reply) =>
    endSpan(request, (span) => {
      if (reply.raw.headersSent) span.setAttribute("http.response.status_code", reply.statusCode);
      span.setAttribute("error.type", "aborted");
      span.setStatus({ code: SpanStatusCode.ERROR, message: "the client closed the connection before the response was complete" });
    }),
  );
}
