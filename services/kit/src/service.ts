import type { IncomingMessage, ServerResponse } from "node:http";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from "fastify";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Registry } from "prom-client";
import { AccessLogController } from "./access-log";
import { ClientAborts } from "./client-abort";
import { installErrorFormat } from "./errors";
import { createReadiness, registerHealthRoutes, registerReadinessGauge, type Readiness, type ReadinessCheck } from "./health";
import type { Logger } from "./logger";
import { createMetricsRegistry, instrumentRequests } from "./metrics";
import { requestChildLogger } from "./request-logger";
import { KEEP_ALIVE_TIMEOUT_MS } from "./serve";
import { instrumentTracing, type Tracing } from "./tracing";
import { installValidation } from "./validation";

/** What the kit attaches to every service app (read by startServer and tests). */
export interface KitState {
  readonly name: string;
  readonly readiness: Readiness;
  readonly metrics: Registry;
}

declare module "fastify" {
  interface FastifyInstance {
    kit: KitState;
  }
}

/** A Fastify instance whose route schemas are TypeBox schemas with inferred types. */
export type ServiceApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface ServiceOptions {
  name: string;
  version?: string;
  description?: string;
  logger: Logger;
  /** Dependencies /health/ready checks, each with its own timeout. */
  readiness?: ReadinessCheck[];
  /** Default timeout of a readiness check without its own. */
  readinessTimeoutMs?: number;
  /** Created (with default process metrics) when omitted. */
  metrics?: Registry;
  /** Run when the app closes, after in-flight requests finished: close pools, clients, channels. */
  closers?: Array<() => Promise<unknown>>;
  /** Log one access line per request when it completes (AccessLogController); on by default. */
  requestLogging?: boolean;
  bodyLimit?: number;
  /** Behind the gateway, so request.ip is the client's and not Traefik's. */
  trustProxy?: boolean | string | string[];
  /** From startTracing when OTEL_EXPORTER_OTLP_ENDPOINT is set: a span per request, flushed at close. */
  tracing?: Tracing;
}

/**
 * Builds the common spine: the error format, health routes, request metrics and the OpenAPI
 * document at /docs/json. The service adds its routes to the returned app.
 */
export async function createService(options: ServiceOptions): Promise<ServiceApp> {
  // Typed as Fastify's base logger so the app's type does not depend on pino's generics.
  const loggerInstance: FastifyBaseLogger = options.logger;
  const aborts = new ClientAborts();
  const accessLog = new AccessLogController(options.requestLogging !== false, aborts);
  aborts.add(accessLog.requestAborted);
  const app = Fastify({
    loggerInstance,
    logController: accessLog,
    // Requests' loggers become pino children only when they write (RequestLogger).
    childLoggerFactory: requestChildLogger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    trustProxy: options.trustProxy ?? false,
    // Answer requests that arrive on open keep-alive connections during close with 503.
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const readiness = createReadiness(options.readiness ?? []);
  const metrics = options.metrics ?? createMetricsRegistry(options.name);
  app.decorate("kit", { name: options.name, readiness, metrics });

  installErrorFormat(app);
  installValidation(app);
  instrumentRequests(app, metrics, aborts);
  if (options.tracing) instrumentTracing(app, options.tracing.tracer, aborts);
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: options.name, version: options.version ?? "0.1.0", description: options.description ?? "" },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    },
  });
  app.get("/docs/json", { schema: { hide: true } }, async () => app.swagger());
  registerHealthRoutes(app, readiness, options.readinessTimeoutMs);
  registerReadinessGauge(metrics, readiness, options.readinessTimeoutMs);

  // One hook running the closers in the order given: Fastify runs separate onClose hooks in
  // reverse, which would end the pool before the work that still needs it has stopped.
  const closers = [...(options.closers ?? []), ...(options.tracing ? [() => options.tracing!.shutdown()] : [])];
  app.addHook("onClose", async () => {
    for (const close of closers) {
      try {
        await close();
      } catch (err) {
        app.log.warn({ err }, "closing a dependency failed");
      }
    }
  });
  return app;
}
