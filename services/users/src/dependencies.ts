import { createLogger, createPgPool, createRedis, effectiveSessionTimeouts, EnvError, listenConnection, tracingFromEnv, type EnvSource, type Logger } from "@fundament/kit";
import { Messaging, type AmqpEndpoint } from "@fundament/kit/messaging";
import type { UsersDeps, UsersSettings } from "./app";
import { loadUsersConfig, type UsersConfig } from "./config";
import { ACCOUNT_FEED_APPLICATION, PostgresAccountFeed } from "./domain/account-feed";
import { loadTokenKeys, type TokenKeys } from "./domain/token-keys";

/** The signing key and the public keys also accepted, as the key files hold them. */
export function tokenKeysOf(config: UsersConfig): Promise<TokenKeys> {
  return loadTokenKeys(config.JWT_SIGNING_KEY, config.JWT_PREVIOUS_PUBLIC_KEYS ?? "", config.JWT_NEXT_PUBLIC_KEYS ?? "");
}

/**
 * Reads the key files again every `everyMs` (0: never), through the same environment as at
 * start: mounted secrets change in place on a rotation or retirement, the variables do not.
 */
export function keyFileReload(source: EnvSource, everyMs: number): NonNullable<UsersDeps["keyReload"]> {
  return { everyMs, load: () => tokenKeysOf(loadUsersConfig(source)) };
}

export function settingsFrom(config: UsersConfig): UsersSettings {
  return {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
    passwordMinLength: config.PASSWORD_MIN_LENGTH,
    argon2: { memoryKiB: config.ARGON2_MEMORY_KIB, iterations: config.ARGON2_ITERATIONS, parallelism: config.ARGON2_PARALLELISM },
    argon2MaxConcurrency: config.ARGON2_MAX_CONCURRENCY,
    rateLimit: {
      windowSeconds: config.LOGIN_RATE_LIMIT_WINDOW_SECONDS,
      accountMax: config.LOGIN_RATE_LIMIT_ACCOUNT_MAX,
      ipMax: config.LOGIN_RATE_LIMIT_IP_MAX,
    },
    outboxPollMs: config.OUTBOX_POLL_MS,
    verifiedTokenCacheMaxEntries: config.VERIFIED_TOKEN_CACHE_MAX_ENTRIES,
  };
}

/**
 * The broker endpoint of an amqp:// or amqps:// URL (user@host:port/vhost; the vhost "/" is
 * spelled %2F in a URL). amqps:// verifies the broker (against `ca`
 * when given, else the system's CAs); a CA with amqp:// is refused, since the connection would be
 * plain text while the settings read as verified.
 */
export function amqpEndpoint(url: string, password: string, ca?: string): AmqpEndpoint {
  const parsed = new URL(url);
  const tls = parsed.protocol === "amqps:";
  if (!tls && ca !== undefined) throw new EnvError([`AMQP_URL: a CA is given (AMQP_CA_FILE) but ${parsed.protocol}// is plain text; use amqps://`]);
  const path = parsed.pathname.replace(/^\//, "");
  return {
    host: parsed.hostname,
    port: parsed.port === "" ? (tls ? 5671 : 5672) : Number(parsed.port),
    vhost: path === "" ? "/" : decodeURIComponent(path),
    user: decodeURIComponent(parsed.username || "guest"),
    password,
    ...(tls ? { tls: ca === undefined ? {} : { ca } } : {}),
  };
}

function trustProxy(value: string | undefined): boolean | string | undefined {
  if (value === undefined) return undefined;
  if (value === "true") return true;
  if (value === "false") return false;
  return value;
}

/** Tuning of the account feed's LISTEN session that is not an operator's setting (tests shorten or lengthen it). */
export interface AccountFeedTuning {
  reconnectDelayMs?: number;
  heartbeatMs?: number;
}

/**
 * Shorter than the idle-in-transaction timeout the sessions really have (the relay publishes
 * inside a transaction, which the server would end under it); 5 s where the server sets none.
 */
function publishTimeoutWithin(idleInTransactionTimeoutMs: number): number {
  return idleInTransactionTimeoutMs === 0 ? 5000 : Math.max(1000, Math.floor(idleInTransactionTimeoutMs / 2));
}

/** Opens the pool, the Redis client, the account feed and the broker link the app needs. */
export async function connectDependencies(
  config: UsersConfig,
  logger: Logger = createLogger({ service: "users", level: config.LOG_LEVEL }),
  feedTuning: AccountFeedTuning = {},
): Promise<UsersDeps> {
  const pool = createPgPool({
    url: config.DATABASE_URL,
    password: config.DATABASE_PASSWORD,
    ca: config.DATABASE_CA,
    applicationName: "users",
    max: config.DATABASE_POOL_MAX,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    // Only what identifies the failure: pg-pool attaches the whole client object to the error.
    onIdleError: (err) => logger.warn({ error: err.message, code: (err as { code?: string }).code }, "idle postgres connection failed"),
  });
  const timeouts = await effectiveSessionTimeouts(
    pool,
    { statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS, idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS },
    { statementTimeoutMs: "DATABASE_STATEMENT_TIMEOUT_MS", idleInTransactionTimeoutMs: "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS" },
  ).catch(async (error: unknown) => {
    await pool.end();
    throw error;
  });
  const redis = createRedis({
    url: config.REDIS_URL,
    connectionName: "users",
    ...(config.REDIS_PASSWORD !== undefined ? { password: config.REDIS_PASSWORD } : {}),
    ...(config.REDIS_CA !== undefined ? { tls: { ca: config.REDIS_CA } } : {}),
    onError: (err) => logger.warn({ error: err.message }, "redis connection error"),
  });
  const accountFeed = await PostgresAccountFeed.start({
    // PgBouncer's transaction pooling would hand the LISTEN session's server connection to others.
    connection: listenConnection(config.DATABASE_LISTEN_URL ?? config.DATABASE_URL, config.DATABASE_PASSWORD, config.DATABASE_CA, ACCOUNT_FEED_APPLICATION),
    logger,
    cache: { maxEntries: config.ACCOUNT_CACHE_MAX_ENTRIES, ttlMs: config.ACCOUNT_CACHE_TTL_SECONDS * 1000 },
    ...feedTuning,
  });
  const tracing = tracingFromEnv("users", config);
  const messaging = await Messaging.connect({
    endpoint: amqpEndpoint(config.AMQP_URL, config.AMQP_PASSWORD, config.AMQP_CA),
    prefetch: 10,
    connectionName: "users",
    // Shorter than the database's idle-in-transaction timeout: the relay publishes inside a transaction.
    publishTimeoutMs: publishTimeoutWithin(timeouts.idleInTransactionTimeoutMs),
    closeTimeoutMs: 5000,
    logger,
    ...(tracing ? { tracer: tracing.tracer } : {}),
  });
  const keys = await tokenKeysOf(config);
  const deps: UsersDeps = { logger, pool, redis, messaging, accountFeed, keys, settings: settingsFrom(config) };
  if (config.BOOTSTRAP_ADMIN_EMAIL !== undefined && config.BOOTSTRAP_ADMIN_PASSWORD !== undefined) {
    deps.bootstrapAdmin = { email: config.BOOTSTRAP_ADMIN_EMAIL, password: config.BOOTSTRAP_ADMIN_PASSWORD };
  }
  if (tracing) deps.tracing = tracing;
  const proxy = trustProxy(config.TRUST_PROXY);
  if (proxy !== undefined) deps.trustProxy = proxy;
  return deps;
}
