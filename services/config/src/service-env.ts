import { consulEnv, env, serverTlsEnv, tracingEnv, type EnvValues } from "@fundament/kit";

/** Every variable the service reads; secrets only through `*_FILE`. */
export const configServiceEnv = {
  PORT: env.port({ default: 8080, description: "HTTP port of the API" }),
  METRICS_PORT: env.port({ default: 9464, description: "port of the separate /metrics listener" }),
  LOG_LEVEL: env.oneOf(["fatal", "error", "warn", "info", "debug", "trace"], { default: "info" }),
  DATABASE_URL: env.url({ protocols: ["postgres", "postgresql"], description: "postgres://user@host:port/database, without the password" }),
  DATABASE_LISTEN_URL: env.optional(
    env.url({
      protocols: ["postgres", "postgresql"],
      description: "PostgreSQL itself for the change feed's LISTEN session (same user and database, no password); default DATABASE_URL, which must then not be PgBouncer in transaction mode",
    }),
  ),
  DATABASE_CA: env.caCertificate({ description: "the platform CA PostgreSQL's and PgBouncer's certificates are verified against (PEM; give its path as DATABASE_CA_FILE)" }),
  DATABASE_PASSWORD: env.secretFile({ description: "the database user's password" }),
  DATABASE_POOL_MAX: env.integer({ default: 10, min: 1, max: 200 }),
  REDIS_URL: env.url({ protocols: ["redis", "rediss"], description: "redis://host:port/db, without the password" }),
  REDIS_USERNAME: env.optional(env.string({ description: "Redis ACL user" })),
  REDIS_PASSWORD: env.optional(env.secretFile({ description: "the Redis user's password" })),
  REDIS_CA: env.optional(env.secretFile({ description: "the CA a rediss:// server is verified against (PEM)" })),
  AMQP_HOST: env.string({ description: "RabbitMQ host" }),
  AMQP_PORT: env.port({ default: 5672 }),
  AMQP_VHOST: env.string({ default: "/", description: "RabbitMQ virtual host" }),
  AMQP_USER: env.string({ description: "RabbitMQ user" }),
  AMQP_PASSWORD: env.secretFile({ description: "the RabbitMQ user's password" }),
  AMQP_CA: env.optional(env.secretFile({ description: "when set, AMQPS: the broker is verified against this CA (PEM) and AMQP_HOST" })),
  JWKS_URL: env.url({ protocols: ["http", "https"], description: "the users service's JWKS document at its DNS name (used as is when Consul is not configured)" }),
  JWKS_CA: env.optional(env.caCertificate({ description: "the CA an https JWKS_URL is verified against (PEM; the platform CA, given as JWKS_CA_FILE)" })),
  JWKS_SERVICE: env.string({ default: "users", description: "Consul service whose passing instances serve JWKS_URL's path" }),
  JWT_ISSUER: env.optional(env.string({ description: "required `iss` of tokens" })),
  JWT_AUDIENCE: env.optional(env.string({ description: "required `aud` of tokens" })),
  JWT_ROLES_CLAIM: env.string({ default: "roles", description: "claim carrying the caller's roles" }),
  JWKS_COOLDOWN_MS: env.integer({ default: 30_000, min: 0, description: "least time between JWKS refetches on an unknown kid" }),
  JWKS_MAX_AGE_MS: env.integer({ default: 60_000, min: 1000, description: "the JWKS is fetched again after this long: the longest a key the users service retired still verifies while the watch is down" }),
  JWKS_WATCH_SECONDS: env.integer({ default: 25, min: 0, max: 55, description: "how long each watch poll on the JWKS waits for a key change (0: no watch); with it a key the users service retired stops verifying at once" }),
  CONFIG_WRITE_ROLE: env.string({ default: "config:write", description: "role a token needs to change configuration" }),
  CONFIG_READ_ROLE: env.optional(env.string({ description: "when set, role a token needs to read configuration (the write role also reads)" })),
  WATCH_DEFAULT_WAIT_SECONDS: env.integer({ default: 30, min: 0, max: 300 }),
  WATCH_MAX_WAIT_SECONDS: env.integer({ default: 60, min: 1, max: 300 }),
  CACHE_TTL_SECONDS: env.integer({ default: 300, min: 1, max: 86_400 }),
  CACHE_IDENTITY_CHECK_MS: env.integer({ default: 1000, min: 100, max: 60_000, description: "how often the database identity the cache is keyed by is read again" }),
  OUTBOX_SWEEP_MS: env.integer({ default: 5000, min: 100 }),
  HOST: env.string({ default: "0.0.0.0", description: "address the listeners bind" }),
  ...consulEnv,
  ...serverTlsEnv,
  ...tracingEnv,
  SHUTDOWN_PROBE_PERIOD_MS: env.integer({ default: 5000, min: 0, description: "how long readiness is 503 before the listener closes" }),
  SHUTDOWN_GRACE_PERIOD_MS: env.integer({ default: 25_000, min: 1000 }),
};

export type ConfigServiceEnv = EnvValues<typeof configServiceEnv>;

/** The migration job needs only the database. */
export const migrateEnv = {
  DATABASE_URL: configServiceEnv.DATABASE_URL,
  DATABASE_PASSWORD: configServiceEnv.DATABASE_PASSWORD,
  DATABASE_CA: configServiceEnv.DATABASE_CA,
  LOG_LEVEL: configServiceEnv.LOG_LEVEL,
};
