import { hostname } from "node:os";
import { createJwksVerifier, createPgPool, EnvError, tracingFromEnv, type Logger } from "@fundament/kit";
import { Messaging } from "@fundament/kit/messaging";
import type { GpuJobsAppDeps } from "./app";
import { adaptersFromEnv } from "./providers/adapters-from-env";
import type { GpuJobsEnv } from "./service-env";

/** Connects everything buildApp needs from a validated environment; server.ts and tests use it. */
export async function connectDependencies(config: GpuJobsEnv, logger: Logger): Promise<GpuJobsAppDeps> {
  const adapters = adaptersFromEnv(config);
  const pool = createPgPool({
    url: config.DATABASE_URL,
    password: config.DATABASE_PASSWORD,
    ca: config.DATABASE_CA,
    applicationName: "gpu-jobs",
    max: config.DATABASE_POOL_MAX,
    onIdleError: (err) => logger.warn({ err }, "idle PostgreSQL connection lost"),
  });
  const verifier = await createJwksVerifier({
    jwksUrl: config.JWKS_URL,
    rolesClaim: config.JWT_ROLES_CLAIM,
    cooldownMs: config.JWKS_COOLDOWN_MS,
    cacheMaxAgeMs: config.JWKS_MAX_AGE_MS,
    watchSeconds: config.JWKS_WATCH_SECONDS,
    onWatchProblem: (message) => logger.warn(message),
    ...(config.JWKS_CA === undefined ? {} : { ca: config.JWKS_CA }),
    ...(config.JWT_ISSUER === undefined ? {} : { issuer: config.JWT_ISSUER }),
    ...(config.JWT_AUDIENCE === undefined ? {} : { audience: config.JWT_AUDIENCE }),
  });
  const tracing = tracingFromEnv("gpu-jobs", config);
  const messaging = await connectMessaging(config, logger, tracing?.tracer);
  return {
    logger,
    pool,
    verifier,
    adapters,
    ...(messaging ? { messaging } : {}),
    outboxPollMs: config.OUTBOX_POLL_MS,
    // The JWKS watch holds a poll open on the users service until it is stopped.
    closers: [() => verifier.close()],
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
    ...(tracing ? { tracing } : {}),
  };
}

/** The broker link when AMQP_HOST is set; user and password are then required. */
async function connectMessaging(config: GpuJobsEnv, logger: Logger, tracer: Parameters<typeof Messaging.connect>[0]["tracer"]): Promise<Messaging | undefined> {
  if (config.AMQP_HOST === undefined) return undefined;
  const problems: string[] = [];
  if (config.AMQP_USER === undefined) problems.push("AMQP_USER: is required when AMQP_HOST is set");
  if (config.AMQP_PASSWORD === undefined) problems.push("AMQP_PASSWORD_FILE: is required when AMQP_HOST is set");
  if (problems.length > 0) throw new EnvError(problems);
  return Messaging.connect({
    endpoint: {
      host: config.AMQP_HOST,
      port: config.AMQP_PORT,
      vhost: config.AMQP_VHOST,
      user: config.AMQP_USER!,
      password: config.AMQP_PASSWORD!,
      ...(config.AMQP_CA === undefined ? {} : { tls: { ca: config.AMQP_CA } }),
    },
    prefetch: config.AMQP_PREFETCH,
    // The relay publishes inside a transaction: fail well before PostgreSQL's idle-in-transaction timeout (10 s).
    publishTimeoutMs: 4000,
    connectionName: `gpu-jobs@${hostname()}:${process.pid}`,
    closeTimeoutMs: 10_000,
    logger,
    ...(tracer ? { tracer } : {}),
  });
}
