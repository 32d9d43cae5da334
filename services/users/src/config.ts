import { consulEnv, env, serverTlsEnv, tracingEnv, EnvError, loadEnv, type EnvSource, type EnvValues } from "@fundament/kit";

/** Every variable the users service reads; secrets only through *_FILE paths. */
export const usersEnv = {
  PORT: env.port({ default: 8080, description: "HTTP port of the API" }),
  METRICS_PORT: env.port({ default: 9464, description: "port of the separate /metrics listener" }),
  HOST: env.string({ default: "0.0.0.0" }),
  LOG_LEVEL: env.oneOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const, { default: "info" }),
  TRUST_PROXY: env.optional(env.string({ description: "addresses or CIDRs of the gateway, or true" })),

  DATABASE_URL: env.url({ protocols: ["postgres", "postgresql"], description: "postgres://user@host:port/db without a password" }),
  DATABASE_LISTEN_URL: env.optional(
    env.url({
      protocols: ["postgres", "postgresql"],
      description: "PostgreSQL itself for the account feed's LISTEN session (same user and database, no password); default DATABASE_URL, which must then not be PgBouncer in transaction mode",
    }),
  ),
  DATABASE_CA: env.caCertificate({ description: "the platform CA PostgreSQL's and PgBouncer's certificates are verified against (PEM; give its path as DATABASE_CA_FILE)" }),
  DATABASE_PASSWORD: env.secretFile({ description: "the database user's password" }),
  DATABASE_POOL_MAX: env.integer({ default: 10, min: 1, max: 200 }),
  // Unset: the role's defaults, which the platform sets (5 s and 10 s). Set, they must take effect:
  // start-up refuses them through PgBouncer, which drops start-up parameters.
  DATABASE_STATEMENT_TIMEOUT_MS: env.optional(env.integer({ min: 100 })),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.optional(env.integer({ min: 100 })),

  REDIS_URL: env.url({ protocols: ["redis", "rediss"], description: "redis://host:port/db without a password" }),
  REDIS_PASSWORD: env.optional(env.secretFile({ description: "the Redis password" })),
  REDIS_CA: env.optional(env.secretFile({ description: "the CA a rediss:// server is verified against (PEM)" })),

  AMQP_URL: env.url({ protocols: ["amqp", "amqps"], description: "amqp://user@host:port/vhost without a password" }),
  AMQP_PASSWORD: env.secretFile({ description: "the RabbitMQ user's password" }),
  AMQP_CA: env.optional(env.secretFile({ description: "the CA an amqps:// broker is verified against (PEM)" })),

  JWT_SIGNING_KEY: env.secretFile({ description: "PEM (PKCS#8) Ed25519 private key that signs access tokens" }),
  // Public keys, so plain files (an empty one accepts nothing more) or inline values both do.
  JWT_PREVIOUS_PUBLIC_KEYS: env.optional(env.string({ description: "PEM public keys of retired signing keys, still accepted and published" })),
  JWT_NEXT_PUBLIC_KEYS: env.optional(
    env.string({ description: "PEM public keys of the keys the next rotation signs with, accepted and published ahead so every verifier holds one before it signs" }),
  ),
  JWT_KEYS_RELOAD_SECONDS: env.integer({
    default: 60,
    min: 0,
    max: 3600,
    description: "how often the key files are read again (0: never): a rotation or retirement written to them takes effect without a restart",
  }),
  JWT_ISSUER: env.string({ default: "fundament-users" }),
  JWT_AUDIENCE: env.string({ default: "fundament" }),
  ACCESS_TOKEN_TTL_SECONDS: env.integer({ default: 900, min: 60, max: 3600 }),
  REFRESH_TOKEN_TTL_SECONDS: env.integer({ default: 30 * 24 * 3600, min: 300 }),

  PASSWORD_MIN_LENGTH: env.integer({ default: 12, min: 8, max: 128 }),
  ARGON2_MEMORY_KIB: env.integer({ default: 19_456, min: 7168 }),
  ARGON2_ITERATIONS: env.integer({ default: 2, min: 1, max: 20 }),
  ARGON2_PARALLELISM: env.integer({ default: 1, min: 1, max: 16 }),
  ARGON2_MAX_CONCURRENCY: env.integer({ default: 2, min: 1, max: 64, description: "argon2 calls at once; each holds ARGON2_MEMORY_KIB of RAM and a libuv thread" }),

  LOGIN_RATE_LIMIT_WINDOW_SECONDS: env.integer({ default: 900, min: 1 }),
  LOGIN_RATE_LIMIT_ACCOUNT_MAX: env.integer({ default: 5, min: 1, description: "failed logins per account per window" }),
  LOGIN_RATE_LIMIT_IP_MAX: env.integer({ default: 100, min: 1, description: "login attempts per client address per window" }),

  BOOTSTRAP_ADMIN_EMAIL: env.optional(env.string({ pattern: /^[^@\s]+@[^@\s]+$/ })),
  BOOTSTRAP_ADMIN_PASSWORD: env.optional(env.secretFile({ description: "the first administrator's initial password" })),

  ...consulEnv,
  ...serverTlsEnv,

  ...tracingEnv,

  OUTBOX_POLL_MS: env.integer({ default: 5000, min: 100 }),
  VERIFIED_TOKEN_CACHE_MAX_ENTRIES: env.integer({ default: 50_000, min: 0, max: 1_000_000, description: "access tokens remembered after their signature check (about 600 bytes each); 0 checks every request" }),
  ACCOUNT_CACHE_MAX_ENTRIES: env.integer({
    default: 50_000,
    min: 0,
    max: 1_000_000,
    description: "accounts held in memory for authenticated requests (about 1 KiB each), kept coherent by the LISTEN feed; 0 reads every request's account from PostgreSQL",
  }),
  ACCOUNT_CACHE_TTL_SECONDS: env.integer({
    default: 300,
    min: 0,
    max: 86_400,
    description: "the longest an account copy is held, a safety net behind the change feed (which drops a changed account at once); 0 disables the cache",
  }),
  SHUTDOWN_PROBE_PERIOD_MS: env.integer({ default: 5000, min: 0, description: "readiness probe period: how long readiness is 503 before the listener closes" }),
  SHUTDOWN_GRACE_PERIOD_MS: env.integer({ default: 25_000, min: 1000, description: "must be below the orchestrator's stop grace period" }),
};

export type UsersConfig = EnvValues<typeof usersEnv>;

export function loadUsersConfig(source: EnvSource = process.env): UsersConfig {
  const config = loadEnv(usersEnv, source);
  if ((config.BOOTSTRAP_ADMIN_EMAIL === undefined) !== (config.BOOTSTRAP_ADMIN_PASSWORD === undefined)) {
    throw new EnvError(["BOOTSTRAP_ADMIN_EMAIL: must be set together with BOOTSTRAP_ADMIN_PASSWORD_FILE (both or neither)"]);
  }
  return config;
}
