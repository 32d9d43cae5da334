import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, type Context } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

/** W3C trace context headers as they travel on a message or an outbox row. */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

const propagator = new W3CTraceContextPropagator();
let contextManagerInstalled = false;

/**
 * Makes `context.active()` follow async work (AsyncLocalStorage), so a span made active for a
 * request is still active when its handler publishes or writes an outbox row. Without a context
 * manager the API's active context is always the empty root. Installed once per process.
 */
export function ensureContextManager(): void {
  if (contextManagerInstalled) return;
  contextManagerInstalled = true;
  // false when something else (an SDK's NodeTracerProvider) registered one first: that one propagates too.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

/** The W3C headers for a context (the active one by default); empty when it holds no valid span. */
export function injectTraceHeaders(from: Context = context.active()): TraceHeaders {
  const carrier: Record<string, string> = {};
  propagator.inject(from, carrier, defaultTextMapSetter);
  const headers: TraceHeaders = {};
  if (carrier.traceparent !== undefined) headers.traceparent = carrier.traceparent;
  if (carrier.tracestate !== undefined) headers.tracestate = carrier.tracestate;
  return headers;
}

/**
 * The remote parent carried by message or request headers, on top of the root context; AMQP
 * header values may arrive as Buffers, so they are read as text.
 */
export function extractTraceContext(headers: Record<string, unknown> | undefined): Context {
  const carrier: Record<string, string> = {};
  for (const name of ["traceparent", "tracestate"] as const) {
    const value = headers?.[name];
    if (typeof value === "string") carrier[name] = value;
    else if (Buffer.isBuffer(value)) carrier[name] = value.toString("utf8");
  }
  return propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}
