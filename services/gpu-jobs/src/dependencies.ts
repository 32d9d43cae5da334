import { hostname } from "node:os";
import { createJwksVerifier, createPgPool, startTracing, type Logger } from "@fundament/kit";
import type { GpuJobsAppDeps } from "./app";
import { adaptersFromEnv } from "./providers/adapters-from-env";
import type { GpuJobsEnv } from "./service-env";

/** Connects everything buildApp needs from a validated environment; server.ts and tests use it. */
export async function connectDependencies(config: GpuJobsEnv, logger: Logger): Promise<GpuJobsAppDeps> {
  const adapters = adaptersFromEnv(config);
  const pool = createPgPool({
    url: config.DATABASE_URL,
    password: config.DATABASE_PASSWORD,
    applicationName: "gpu-jobs",
    max: config.DATABASE_POOL_MAX,
    onIdleError: (err) => logger.warn({ err }, "idle PostgreSQL connection lost"),
  });
  const verifier = await createJwksVerifier({
    jwksUrl: config.JWKS_URL,
    rolesClaim: config.JWT_ROLES_CLAIM,
    cooldownMs: config.JWKS_COOLDOWN_MS,
    ...(config.JWT_ISSUER === undefined ? {} : { issuer: config.JWT_ISSUER }),
    ...(config.JWT_AUDIENCE === undefined ? {} : { audience: config.JWT_AUDIENCE }),
  });
  return {
    logger,
    pool,
    verifier,
    adapters,
    ...(config.GPU_JOB_SECRETS_DIR === undefined ? {} : { secretsDir: config.GPU_JOB_SECRETS_DIR }),
    owner: `${hostname()}:${process.pid}`,
    placement: {
      attemptTimeoutMs: config.GPU_ATTEMPT_TIMEOUT_MS,
      maxAttempts: config.GPU_MAX_ATTEMPTS,
      providerBackoffMs: config.GPU_PROVIDER_BACKOFF_MS,
      offerTtlMs: config.GPU_OFFER_TTL_MS,
      reliabilityPrior: Number(config.GPU_RELIABILITY_PRIOR),
      leaseMs: config.GPU_LEASE_MS,
      loopIntervalMs: config.GPU_LOOP_INTERVAL_MS,
      reapIntervalMs: config.GPU_REAP_INTERVAL_MS,
    },
    ...(config.OTEL_EXPORTER_OTLP_ENDPOINT === undefined ? {} : { tracing: startTracing({ service: "gpu-jobs", endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT }) }),
  };
}
