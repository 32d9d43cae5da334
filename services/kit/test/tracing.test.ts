import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Type } from "@fastify/type-provider-typebox";
import { waitFor } from "../../../scripts/local-servers/free-port";
import { createLogger } from "../src/logger";
import { createService } from "../src/service";
import { startServer } from "../src/serve";
import { EnvError, loadEnv } from "../src/env";
import { startTracing } from "../src/tracing";
import { tracingEnv, tracingFromEnv } from "../src/tracing-env";
import { injectTraceHeaders } from "../src/trace-context";

// No collector binary here: a small HTTP server stands in for Jaeger's OTLP/HTTP receiver and
// keeps what the real OTLP exporter posts to /v1/traces (JSON encoding).
interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  status?: { code?: number };
  attributes: Array<{ key: string; value: { stringValue?: string; intValue?: number | string } }>;
}

let receiver: Server;
let endpoint: string;
const posts: Array<{ url: string; body: { resourceSpans: Array<{ resource: { attributes: OtlpSpan["attributes"] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> } }> = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString()));
    request.on("end", () => {
      posts.push({ url: request.url!, body: JSON.parse(text) });
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
};

describe("OpenTelemetry traces over OTLP", () => {
  it("exports a server span per request named by route template, continuing the caller's trace", async () => {
    const tracing = startTracing({ service: "traced", endpoint, scheduledDelayMs: 50 });
    const app = await createService({ name: "traced", logger: createLogger({ service: "traced", level: "silent" }), tracing });
    app.get("/users/:id", { schema: { params: Type.Object({ id: Type.String() }) } }, async (request) => ({ id: request.params.id }));
    app.get("/broken", async () => {
      throw new Error("database unreachable");
    });

    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpan = "00f067aa0ba902b7";
    expect((await app.inject({ method: "GET", url: "/users/alice", headers: { traceparent: `00-${traceId}-${callerSpan}-01` } })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/broken" })).statusCode).toBe(500);
    await app.close(); // flushes the exporter

    expect(posts.every((post) => post.url === "/v1/traces")).toBe(true);
    const resourceSpans = posts.flatMap((post) => post.body.resourceSpans);
    expect(resourceSpans[0]!.resource.attributes).toContainEqual({ key: "service.name", value: { stringValue: "traced" } });
    const spans = resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));

    const user = spans.find((span) => span.name === "GET /users/:id")!;
    expect(user.traceId).toBe(traceId);
    expect(user.parentSpanId).toBe(callerSpan);
    expect(user.kind).toBe(2); // SERVER
    expect(attribute(user, "http.route")).toBe("/users/:id");
    expect(attribute(user, "url.path")).toBe("/users/alice");
    expect(attribute(user, "http.response.status_code")).toBe(200);

    const broken = spans.find((span) => span.name === "GET /broken")!;
    expect(broken.traceId).not.toBe(traceId);
    expect(broken.status?.code).toBe(2); // ERROR
    expect(attribute(broken, "http.response.status_code")).toBe(500);
  });

  it("names the request's trace and span on every line the request logs, its access line included", async () => {
    const tracing = startTracing({ service: "traced-logs", endpoint, scheduledDelayMs: 50 });
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ service: "traced-logs", level: "info", destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
    const app = await createService({ name: "traced-logs", logger, tracing });
    app.get("/orders/:id", async (request) => {
      request.log.info({ order: "o-1" }, "order read");
      return { ok: true };
    });
    app.get("/broken", async () => {
      throw new Error("queue unreachable");
    });
    const traceId = "5c1e0e6a2b3d4f5a6b7c8d9e0f1a2b3c";
    expect((await app.inject({ method: "GET", url: "/orders/o-1", headers: { traceparent: `00-${traceId}-a1b2c3d4e5f60718-01` } })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/broken" })).statusCode).toBe(500);
    await app.close();

    const spans = posts.flatMap((post) => post.body.resourceSpans).flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    const order = spans.find((span) => span.name === "GET /orders/:id" && span.traceId === traceId)!;
    const broken = spans.filter((span) => span.name === "GET /broken").at(-1)!;
    // A request's lines share its reqId; its access line is the one that names its URL.
    const ofRequest = (url: string) => {
      const reqId = lines.find((line) => (line.req as { url?: string } | undefined)?.url === url)?.reqId;
      return lines.filter((line) => reqId !== undefined && line.reqId === reqId);
    };
    const orderLines = ofRequest("/orders/o-1");
    expect(orderLines.map((line) => line.msg)).toEqual(["order read", "request completed"]);
    for (const line of orderLines) expect(line).toMatchObject({ trace_id: traceId, span_id: order.spanId, trace_flags: "01" });
    const brokenLines = ofRequest("/broken");
    expect(brokenLines.map((line) => line.msg)).toEqual(["request failed", "request completed"]);
    for (const line of brokenLines) expect(line).toMatchObject({ trace_id: broken.traceId, span_id: broken.spanId, trace_flags: "01" });
    // Lines outside a request name no trace.
    expect(lines.filter((line) => line.reqId === undefined).every((line) => line.trace_id === undefined)).toBe(true);
  });

  it("keeps the request's span active in a handler that reads a body, so what it publishes continues the trace", async () => {
    const tracing = startTracing({ service: "traced-body", endpoint, scheduledDelayMs: 50 });
    const app = await createService({ name: "traced-body", logger: createLogger({ service: "traced-body", level: "silent" }), tracing });
    app.addHook("preHandler", async () => {
      // An async pre-handler (like requireRole) between the hooks and the handler must not lose it.
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    app.post("/jobs", { schema: { body: Type.Object({ name: Type.String() }) } }, async () => injectTraceHeaders());
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const response = await app.inject({ method: "POST", url: "/jobs", payload: { name: "train" }, headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    await app.close();
    const spans = posts.flatMap((post) => post.body.resourceSpans).flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    const server = spans.find((span) => span.name === "POST /jobs" && span.traceId === traceId)!;
    expect(response.json()).toEqual({ traceparent: `00-${traceId}-${server.spanId}-01` });
  });

  it("ends the span of a request whose client hung up as an error of type aborted", async () => {
    const tracing = startTracing({ service: "traced-abort", endpoint, scheduledDelayMs: 50 });
    const app = await createService({ name: "traced-abort", logger: createLogger({ service: "traced-abort", level: "silent" }), tracing });
    let arrived: () => void = () => undefined;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    let release: () => void = () => undefined;
    app.get("/exports/:id", async () => {
      arrived();
      await new Promise<void>((resolve) => (release = resolve));
      return { ok: true };
    });
    const running = await startServer(app, { port: 0, host: "127.0.0.1", probePeriodMs: 0 });
    const traceId = "5bf92f3577b34da6a3ce929d0e0e4736";
    const url = new URL("/exports/9", running.url);
    const request = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    request.on("error", () => undefined);
    request.end();
    await arrival;
    request.destroy();
    const aborted = async () => (await app.kit.metrics.getSingleMetricAsString("http_request_duration_seconds")).includes('status_class="aborted"');
    await waitFor("the server to see the hang-up", aborted, 5_000, 10);
    release();
    await running.shutdown("test over"); // flushes the exporter

    const spans = posts.flatMap((post) => post.body.resourceSpans).flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).filter((span) => span.traceId === traceId);
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ name: "GET /exports/:id", status: { code: 2 } });
    expect(attribute(spans[0]!, "error.type")).toBe("aborted");
    expect(attribute(spans[0]!, "http.response.status_code")).toBeUndefined();
  });
});

describe("which traces are recorded (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG)", () => {
  /** The spans the receiver holds from one service. */
  const spansOf = (service: string) =>
    posts
      .flatMap((post) => post.body.resourceSpans)
      .filter((r) => r.resource.attributes.some((a) => a.key === "service.name" && a.value.stringValue === service))
      .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));

  /** A service whose route writes one line a request; `lines` holds them. */
  async function serve(service: string, variables: Record<string, string>) {
    const tracing = tracingFromEnv(service, loadEnv(tracingEnv, { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, ...variables }));
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({ service, level: "warn", destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
    const app = await createService({ name: service, logger, tracing });
    app.get("/", async (request) => {
      request.log.warn("handled");
      return { ok: true };
    });
    return Object.assign(app, { lines });
  }

  const recordedParent = (traceId: string) => ({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
  const unrecordedParent = (traceId: string) => ({ traceparent: `00-${traceId}-00f067aa0ba902b7-00` });

  it("records every trace by default, and follows the caller's decision when one came", async () => {
    const app = await serve("sampled-default", {});
    for (let i = 0; i < 5; i += 1) await app.inject({ method: "GET", url: "/" });
    await app.inject({ method: "GET", url: "/", headers: unrecordedParent("6bf92f3577b34da6a3ce929d0e0e4736") });
    await app.close();
    const spans = spansOf("sampled-default");
    expect(spans).toHaveLength(5);
    expect(spans.map((span) => span.traceId)).not.toContain("6bf92f3577b34da6a3ce929d0e0e4736");
  });

  it("at ratio 0 records none of the traces it starts, yet every trace its caller recorded", async () => {
    const app = await serve("sampled-zero", { OTEL_TRACES_SAMPLER_ARG: "0" });
    for (let i = 0; i < 50; i += 1) await app.inject({ method: "GET", url: "/" });
    await app.inject({ method: "GET", url: "/", headers: recordedParent("7bf92f3577b34da6a3ce929d0e0e4736") });
    await app.close();
    expect(spansOf("sampled-zero").map((span) => span.traceId)).toEqual(["7bf92f3577b34da6a3ce929d0e0e4736"]);
    // Every line still names its trace; its flags say whether Jaeger has it.
    const handled = app.lines.filter((line) => line.msg === "handled");
    expect(handled).toHaveLength(51);
    expect(handled.filter((line) => line.trace_flags === "00" && typeof line.trace_id === "string")).toHaveLength(50);
    expect(handled.filter((line) => line.trace_flags === "01").map((line) => line.trace_id)).toEqual(["7bf92f3577b34da6a3ce929d0e0e4736"]);
  });

  it("records about the ratio's share of the traces it starts", async () => {
    const app = await serve("sampled-quarter", { OTEL_TRACES_SAMPLER_ARG: "0.25" });
    for (let i = 0; i < 800; i += 1) await app.inject({ method: "GET", url: "/" });
    await app.close();
    // Binomial(800, 0.25): mean 200, standard deviation 12; the bounds are five deviations out.
    const recorded = spansOf("sampled-quarter").length;
    expect(recorded).toBeGreaterThan(140);
    expect(recorded).toBeLessThan(260);
  });

  it("honours OpenTelemetry's other sampler names", async () => {
    const app = await serve("sampled-off", { OTEL_TRACES_SAMPLER: "always_off" });
    await app.inject({ method: "GET", url: "/", headers: recordedParent("8bf92f3577b34da6a3ce929d0e0e4736") });
    await app.inject({ method: "GET", url: "/" });
    await app.close();
    expect(spansOf("sampled-off")).toEqual([]);
  });

  it("refuses a sampler or ratio it cannot read at start-up, naming the variable, where the SDK would record everything", () => {
    const problems = (variables: Record<string, string>) => {
      try {
        loadEnv(tracingEnv, variables);
        return [];
      } catch (error) {
        if (error instanceof EnvError) return error.problems;
        throw error;
      }
    };
    expect(problems({ OTEL_TRACES_SAMPLER: "always-on", OTEL_TRACES_SAMPLER_ARG: "10%" })).toEqual([
      'OTEL_TRACES_SAMPLER: must be one of parentbased_traceidratio, parentbased_always_on, parentbased_always_off, traceidratio, always_on, always_off (got "always-on")',
      'OTEL_TRACES_SAMPLER_ARG: must be a decimal number such as 0.25 (got "10%")',
    ]);
    expect(problems({ OTEL_TRACES_SAMPLER_ARG: "2" })).toEqual(["OTEL_TRACES_SAMPLER_ARG: must be at most 1 (got 2)"]);
  });
});
