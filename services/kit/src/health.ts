import type { FastifyInstance } from "fastify";
import { Type } from "@fastify/type-provider-typebox";
import { Gauge, type Registry } from "prom-client";
import { ErrorBody } from "./errors";

/** One dependency the service cannot serve without; `check` rejects when it is unusable. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<unknown>;
  /** Per-check timeout; the probe's own timeout must be longer. */
  timeoutMs?: number;
}

export interface Readiness {
  /** False once shutdown has begun: the orchestrator must stop routing here before the listener closes. */
  readonly accepting: boolean;
  drain(): void;
  checks: ReadinessCheck[];
}

export function createReadiness(checks: ReadinessCheck[] = []): Readiness {
  let accepting = true;
  return {
    get accepting() {
      return accepting;
    },
    drain() {
      accepting = false;
    },
    checks,
  };
}

/** Resolves "ok", "timed out after N ms" or "failed"; the failure's own text goes to the log only. */
function withTimeout(check: ReadinessCheck, defaultTimeoutMs: number, onFailure: (error: unknown) => void): Promise<string> {
  const timeoutMs = check.timeoutMs ?? defaultTimeoutMs;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(`timed out after ${timeoutMs} ms`), timeoutMs);
    check.check().then(
      () => {
        clearTimeout(timer);
        resolve("ok");
      },
      (error: unknown) => {
        clearTimeout(timer);
        onFailure(error);
        resolve("failed");
      },
    );
  });
}

const ReadyBody = Type.Object({ status: Type.Literal("ready"), checks: Type.Record(Type.String(), Type.String()) });

export function registerHealthRoutes(app: FastifyInstance, readiness: Readiness, defaultTimeoutMs = 2000): void {
  app.get(
    "/health/live",
    { schema: { tags: ["health"], summary: "The process is up; checks no dependency", response: { 200: Type.Object({ status: Type.Literal("live") }) } } },
    async () => ({ status: "live" as const }),
  );
  app.get(
    "/health/ready",
    {
      schema: {
        tags: ["health"],
        summary: "Every dependency answers within its timeout and the service is not shutting down",
        response: { 200: ReadyBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      if (!readiness.accepting) {
        return reply.status(503).send({ error: { code: "SHUTTING_DOWN", message: "shutting down", details: { failed: ["shutdown"] } } });
      }
      const results = await Promise.all(readiness.checks.map(async (c) => [c.name, await withTimeout(c, defaultTimeoutMs, (err) => request.log.warn({ err, check: c.name }, "readiness check failed"))] as const));
      const checks = Object.fromEntries(results);
      const failed = results.filter(([, result]) => result !== "ok");
      if (failed.length > 0) {
        const message = `not ready: ${failed.map(([name, result]) => `${name} ${result}`).join("; ")}`;
        return reply.status(503).send({ error: { code: "NOT_READY", message, details: { failed: failed.map(([name]) => name), checks } } });
      }
      return { status: "ready" as const, checks };
    },
  );
}

/**
 * fundament_service_ready: 1 when /health/ready would answer 200, evaluated at scrape time, so
 * an instance that is up but cannot reach a dependency is visible (and alerted on) as such.
 */
export function registerReadinessGauge(registry: Registry, readiness: Readiness, defaultTimeoutMs = 2000): void {
  new Gauge({
    name: "fundament_service_ready",
    help: "1 when every readiness check passes and the instance is not shutting down, else 0",
    registers: [registry],
    async collect() {
      if (!readiness.accepting) return this.set(0);
      const results = await Promise.all(readiness.checks.map((c) => withTimeout(c, defaultTimeoutMs, () => undefined)));
      this.set(results.every((r) => r === "ok") ? 1 : 0);
    },
  });
}
