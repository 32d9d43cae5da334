export { Type, type Static, type TSchema, type TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
export { env, loadEnv, EnvError, type EnvSpec, type EnvValues, type EnvVar, type EnvSource } from "./env";
export { createLogger, redactionPaths, redactSecrets, REDACTED_KEYS, type Logger, type LoggerConfig } from "./logger";
export { ErrorBody, HttpError, httpErrors, handleError, fieldProblem, type FieldProblem } from "./errors";
export { createReadiness, registerHealthRoutes, type Readiness, type ReadinessCheck } from "./health";
export {
  createMetricsRegistry,
  instrumentRequests,
  registerPoolMetrics,
  startMetricsServer,
  statusClass,
  ABORTED_STATUS_CLASS,
  REQUEST_DURATION_BUCKETS,
  type MetricsServer,
} from "./metrics";
export { ClientAborts, type AbortHandler } from "./client-abort";
export { createService, type ServiceApp, type ServiceOptions, type KitState } from "./service";
export { startServer, KEEP_ALIVE_TIMEOUT_MS, exitOnSignals, exitOnStartupError, serveOptionsFrom, serveUntilSignalled, type ServeEnv, type ServeOptions, type RunningServer, type ShutdownLog } from "./serve";
export { createPgPool, checkPostgres, connectionFields, postgresTls, effectiveSessionTimeouts, type PgPoolOptions, type SessionTimeouts, type Pool, type PoolClient } from "./postgres";
export { createRedis, checkRedis, closeRedis, redisScript, redisTlsOptions, Redis, type RedisClientOptions, type RedisScript, type ServerTls } from "./redis";
export { PostgresListener, listenConnection, type PostgresListenerOptions } from "./postgres-listener";
export { runMigrations, readMigrations, advisoryLockKey, type Migration, type MigrationResult, type RunMigrationsOptions } from "./migrations";
export { registerWithConsul, consulServiceDefinition, type ConsulRegistration, type ConsulRegistrationOptions } from "./consul";
export { consulRequest, pinnedConnection, ConsulRequestError, type ConsulConnection, type ConsulResponse } from "./consul-http";
export { consulEnv, consulConnectionFromEnv, discoveredUrl, type ConsulEnvValues } from "./consul-env";
export { serverTlsEnv, serverTlsFromEnv, type ServerTlsEnvValues } from "./server-tls";
export { createDiscovery, instancesOf, nextIndex, type Discovery, type DiscoveryOptions, type ServiceInstance } from "./discovery";
export { startTracing, instrumentTracing, type Tracing, type TracingOptions } from "./tracing";
export { tracingEnv, tracingFromEnv, type TracingEnvValues } from "./tracing-env";
export { createJwksVerifier, fetchVerifying, rolesOf, TokenRejectedError, type JwksVerifier, type JwksVerifierOptions, type Principal, type TokenVerifier } from "./token-verifier";
export { clientGone, pause, requestedWait, WaitParameter, type WaitLimits } from "./long-poll";
export { actorOf, principalOf, requireRole } from "./require-role";
export { ensureContextManager, extractTraceContext, injectTraceHeaders, type TraceHeaders } from "./trace-context";
