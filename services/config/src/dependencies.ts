import { consulConnectionFromEnv, createDiscovery, createJwksVerifier, createPgPool, createRedis, discoveredUrl, tracingFromEnv, type Logger } from "@fundament/kit";
import { Messaging } from "@fundament/kit/messaging";
import type { ConfigAppDeps } from "./app";
import { brokerChangePublisher } from "./broker-change-publisher";
import { listenConnection, PostgresChangeFeed } from "./change-feed";
import { OutboxRelay } from "./outbox-relay";
import type { ConfigServiceEnv } from "./service-env";

/** Connects everything buildApp needs from a validated environment; server.ts and tests use it. */
export async function connectDependencies(config: ConfigServiceEnv, logger: Logger): Promise<ConfigAppDeps> {
  const pool = createPgPool({
    url: config.DATABASE_URL,
    password: config.DATABASE_PASSWORD,
    ca: config.DATABASE_CA,
    applicationName: "config",
    max: config.DATABASE_POOL_MAX,
    onIdleError: (err) => logger.warn({ err }, "idle PostgreSQL connection lost"),
  });
  const redis = createRedis({
    url: config.REDIS_URL,
    connectionName: "config",
    onError: (err) => logger.warn({ err }, "Redis connection error"),
    ...(config.REDIS_PASSWORD === undefined ? {} : { password: config.REDIS_PASSWORD }),
    ...(config.REDIS_USERNAME === undefined ? {} : { username: config.REDIS_USERNAME }),
    ...(config.REDIS_CA === undefined ? {} : { tls: { ca: config.REDIS_CA } }),
  });
  const changeFeed = await PostgresChangeFeed.start({
    // PgBouncer's transaction pooling would hand the LISTEN session's server connection to others.
    connection: listenConnection(config.DATABASE_LISTEN_URL ?? config.DATABASE_URL, config.DATABASE_PASSWORD, config.DATABASE_CA),
    logger,
  });
  const messaging = await Messaging.connect({
    endpoint: {
      host: config.AMQP_HOST,
      port: config.AMQP_PORT,
      vhost: config.AMQP_VHOST,
      user: config.AMQP_USER,
      password: config.AMQP_PASSWORD,
      ...(config.AMQP_CA === undefined ? {} : { tls: { ca: config.AMQP_CA } }),
    },
    prefetch: 1,
    // Below the pool's 10 s idle-in-transaction timeout: the relay holds its transaction while it waits.
    publishTimeoutMs: 5000,
    connectionName: "config",
    logger,
  });
  const outbox = new OutboxRelay({ pool, publisher: brokerChangePublisher(messaging), logger, sweepIntervalMs: config.OUTBOX_SWEEP_MS });
  // Every replica hears every commit: whichever one is free publishes it.
  changeFeed.onChange(() => outbox.kick());
  outbox.start();
  // The users service's JWKS through discovery: its passing instances from Consul, or JWKS_URL's DNS name without Consul.
  const jwks = new URL(config.JWKS_URL);
  const discovery = createDiscovery({
    consul: consulConnectionFromEnv(config),
    fallback: { [config.JWKS_SERVICE]: { host: jwks.hostname, port: Number(jwks.port || (jwks.protocol === "https:" ? 443 : 80)) } },
    onError: (service, err) => logger.warn({ err, service }, "discovery: Consul query failed, keeping the last answer"),
  });
  let turn = 0;
  const verifier = await createJwksVerifier({
    jwksUrl: config.JWKS_URL,
    resolveJwksUrl: async () => discoveredUrl(config.JWKS_URL, await discovery.discover(config.JWKS_SERVICE), turn++),
    rolesClaim: config.JWT_ROLES_CLAIM,
    cooldownMs: config.JWKS_COOLDOWN_MS,
    cacheMaxAgeMs: config.JWKS_MAX_AGE_MS,
    watchSeconds: config.JWKS_WATCH_SECONDS,
    onWatchProblem: (message) => logger.warn(message),
    ...(config.JWKS_CA === undefined ? {} : { ca: config.JWKS_CA }),
    ...(config.JWT_ISSUER === undefined ? {} : { issuer: config.JWT_ISSUER }),
    ...(config.JWT_AUDIENCE === undefined ? {} : { audience: config.JWT_AUDIENCE }),
  });
  const tracing = tracingFromEnv("config", config);
  return {
    logger,
    pool,
    redis,
    changeFeed,
    verifier,
    outbox,
    writeRole: config.CONFIG_WRITE_ROLE,
    ...(config.CONFIG_READ_ROLE === undefined ? {} : { readRole: config.CONFIG_READ_ROLE }),
    watch: { defaultWaitMs: config.WATCH_DEFAULT_WAIT_SECONDS * 1000, maxWaitMs: config.WATCH_MAX_WAIT_SECONDS * 1000 },
    cacheTtlSeconds: config.CACHE_TTL_SECONDS,
    databaseIdentityCheckMs: config.CACHE_IDENTITY_CHECK_MS,
    readiness: [
      { name: "rabbitmq", check: async () => assertConnected(messaging) },
    ],
    closers: [() => verifier.close(), () => messaging.close(), async () => discovery.close()],
    ...(tracing === undefined ? {} : { tracing }),
  };
}

function assertConnected(messaging: Messaging): void {
  if (!messaging.connected) throw new Error("broker connection is down");
}
