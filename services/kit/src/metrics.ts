import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Pool } from "pg";
import type { ClientAborts } from "./client-abort";

/** Seconds; spans a cached read (sub-millisecond) to an argon2 login (hundreds of ms). */
export const REQUEST_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One registry per service instance, so two apps in one test process never share series. */
export function createMetricsRegistry(service: string, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The route a request is labelled with in metrics, spans and the access line: its template
 * (/users/:id, never the raw URL, so series stay bounded), or `unmatched` for a URL no route has.
 */
export function routeTemplate(request: FastifyRequest): string {
  return request.routeOptions.url ?? "unmatched";
}

export function statusClass(statusCode: number): string {
  return `${Math.floor(statusCode / 100)}xx`;
}

/** The status class of a request whose client closed the connection before the response was done (nginx logs these as 499). */
export const ABORTED_STATUS_CLASS = "aborted";

/**
 * Records http_request_duration_seconds by method, route template (/users/:id, never the raw
 * URL, so series stay bounded) and status class. Unmatched URLs share one `unmatched` route. A
 * request its client gave up on is recorded with status class `aborted` and the time until then,
 * so the slow requests callers time out still count in the latency quantiles.
 */
export function instrumentRequests(app: FastifyInstance, registry: Registry, aborts: ClientAborts): Histogram<"method" | "route" | "status_class"> {
  const histogram = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by method, route template and status class (aborted: the client closed the connection first)",
    labelNames: ["method", "route", "status_class"] as const,
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [registry],
  });
  const observe = (request: FastifyRequest, reply: FastifyReply, status: string) =>
    histogram.observe({ method: request.method, route: routeTemplate(request), status_class: status }, reply.elapsedTime / 1000);
  // Callback style: an async hook would allocate a promise on every request of every service.
  app.addHook("onResponse", (request, reply, done) => {
    observe(request, reply, statusClass(reply.statusCode));
    done();
  });
  aborts.add((request, reply) => observe(request, reply, ABORTED_STATUS_CLASS));
  return histogram;
}

/** Gauges read from the pool at scrape time: a pool that is always waiting needs more connections. */
export function registerPoolMetrics(registry: Registry, pool: Pool, name = "main"): void {
  const gauge = (metric: string, help: string, read: () => number) =>
    new Gauge({
      name: metric,
      help,
      labelNames: ["pool"] as const,
      registers: [registry],
      collect() {
        this.set({ pool: name }, read());
      },
    });
  gauge("pg_pool_connections", "Connections the pg pool holds (idle and in use)", () => pool.totalCount);
  gauge("pg_pool_idle_connections", "Idle connections in the pg pool", () => pool.idleCount);
  gauge("pg_pool_waiting_requests", "Queries waiting for a pg pool connection", () => pool.waitingCount);
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves the registry on its own port so /metrics is never exposed through the gateway; over
 * HTTPS with `tls` (the service's leaf), which Prometheus verifies against the platform CA.
 */
export function startMetricsServer(registry: Registry, port: number, host = "0.0.0.0", tls?: { cert: string; key: string }): Promise<MetricsServer> {
  const handle: RequestListener<typeof IncomingMessage, typeof ServerResponse> = (request, response) => {
    if (request.method !== "GET" || (request.url ?? "").split("?")[0] !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${String(error)}\n`),
    );
  };
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: "TLSv1.2" }, handle) : createServer(handle);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
