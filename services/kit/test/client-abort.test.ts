import { request as httpRequest } from "node:http";
import { describe, expect, it } from "vitest";
import { waitFor } from "../../../scripts/local-servers/free-port";
import { createLogger } from "../src/logger";
import { startServer, type RunningServer } from "../src/serve";
import { createService, type ServiceApp } from "../src/service";

/** A route whose handler holds until released, so a test can hang up while it works. */
function holdingRoute() {
  let arrived: () => void = () => undefined;
  const arrival = new Promise<void>((resolve) => (arrived = resolve));
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let returned: () => void = () => undefined;
  const handlerReturned = new Promise<void>((resolve) => (returned = resolve));
  const handler = async () => {
    arrived();
    await released;
    returned();
    return { ok: true };
  };
  /** Lets the handler answer, and waits until Fastify has tried to send that answer. */
  const finish = async () => {
    release();
    await handlerReturned;
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { handler, arrival, finish };
}

/** Sends a request and hangs up once the handler has it. */
async function hangUpWhileHandled(running: RunningServer, method: string, path: string, arrival: Promise<void>, body?: string): Promise<void> {
  const url = new URL(path, running.url);
  const request = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method, headers: body ? { "content-type": "application/json" } : {} });
  request.on("error", () => undefined);
  request.end(body);
  await arrival;
  request.destroy();
}

function captureLines() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ service: "abort", level: "info", destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { logger, lines, ofRoute: (route: string) => lines.filter((line) => line.route === route) };
}

async function serve(app: ServiceApp): Promise<RunningServer> {
  return startServer(app, { port: 0, host: "127.0.0.1", metricsPort: 0, probePeriodMs: 0 });
}

async function durationSeries(running: RunningServer): Promise<string[]> {
  const text = await (await fetch(running.metricsUrl!)).text();
  return text.split("\n").filter((line) => line.startsWith("http_request_duration_seconds_count"));
}

describe("requests the client gave up on", () => {
  it("count as aborted in the duration histogram and write one access line, for a GET and for a POST whose body was read", async () => {
    const { logger, ofRoute } = captureLines();
    const app = await createService({ name: "abort", logger });
    const get = holdingRoute();
    const post = holdingRoute();
    app.get("/reports/:id", get.handler);
    app.post("/reports", post.handler);
    const running = await serve(app);
    try {
      await hangUpWhileHandled(running, "GET", "/reports/7", get.arrival);
      await hangUpWhileHandled(running, "POST", "/reports", post.arrival, JSON.stringify({ title: "quarterly" }));
      await waitFor("the server to see both hang-ups", async () => ofRoute("/reports/:id").length + ofRoute("/reports").length === 2, 5_000, 10);
      // The handlers answer after their clients left: that must not add a completed request.
      await get.finish();
      await post.finish();

      const series = await durationSeries(running);
      expect(series).toContain('http_request_duration_seconds_count{service="abort",method="GET",route="/reports/:id",status_class="aborted"} 1');
      expect(series).toContain('http_request_duration_seconds_count{service="abort",method="POST",route="/reports",status_class="aborted"} 1');
      expect(series.filter((line) => line.includes('route="/reports'))).toHaveLength(2);

      for (const [route, method, url] of [["/reports/:id", "GET", "/reports/7"], ["/reports", "POST", "/reports"]] as const) {
        const lines = ofRoute(route);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({ level: "info", msg: "request aborted by the client", aborted: true, req: { method, url } });
        expect(lines[0]!.res).toBeUndefined();
        expect(lines[0]!.responseTime).toBeGreaterThan(0);
      }
    } finally {
      await running.shutdown("test over");
    }
  });

  it("leaves a completed request and a hijacked stream the client closed as they were", async () => {
    const { logger, lines, ofRoute } = captureLines();
    const app = await createService({ name: "abort", logger });
    app.get("/fine", async () => ({ ok: true }));
    let streaming: () => void = () => undefined;
    const streamOpen = new Promise<void>((resolve) => (streaming = resolve));
    let closed: () => void = () => undefined;
    const streamClosed = new Promise<void>((resolve) => (closed = resolve));
    app.get("/events", (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { "content-type": "text/event-stream" });
      reply.raw.write(": open\n\n");
      streaming();
      // Registered after the kit's own close listener (added as the request arrived), so when
      // this runs the kit has already judged the close.
      reply.raw.once("close", () => {
        reply.raw.end();
        closed();
      });
    });
    const running = await serve(app);
    try {
      expect((await fetch(`${running.url}/fine`)).status).toBe(200);
      await hangUpWhileHandled(running, "GET", "/events", streamOpen);
      await streamClosed;

      const series = await durationSeries(running);
      expect(series).toContain('http_request_duration_seconds_count{service="abort",method="GET",route="/fine",status_class="2xx"} 1');
      expect(series.some((line) => line.includes('status_class="aborted"'))).toBe(false);
      expect(ofRoute("/fine")).toMatchObject([{ msg: "request completed" }]);
      expect(lines.some((line) => line.aborted !== undefined)).toBe(false);
    } finally {
      await running.shutdown("test over");
    }
  });
});
