import { checkPostgres, checkRedis, closeRedis, createService, requireRole, type Logger, type Pool, type Redis, type ServiceApp, type TokenVerifier, type Tracing } from "@fundament/kit";
import type { Registry } from "prom-client";
import type { ChangeFeed } from "./change-feed";
import { ConfigEntries, type OutboxSignal } from "./config-entries";
import { CurrentCache } from "./current-cache";
import { DatabaseIdentity } from "./database-identity";
import { ReplicaCache } from "./replica-cache";
import { registerConfigMetrics } from "./plugins/config-metrics";
import { registerEntryRoutes } from "./routes/entries/routes";
import { registerNamespaceRoutes } from "./routes/namespaces/routes";
import type { RouteContext } from "./routes/route-context";
import { registerVersionRoutes } from "./routes/versions/routes";
import { registerWatchRoutes } from "./routes/watch/routes";
import { registerStreamRoute } from "./routes/watch/stream-route";
import { registerEffectiveWatchRoute } from "./routes/watch/effective-route";
import { VersionStore } from "./version-store";

/**
 * Everything the config service needs, already connected. buildApp takes ownership: app.close()
 * ends the watches first, then stops the outbox, quits Redis and ends the pool.
 *
 * - logger: the kit's createLogger({ service: "config" }).
 * - pool: the kit's createPgPool, on a database migrated by src/migrate.ts.
 * - redis: the kit's createRedis; current versions are cached under
 *   `config:current:<database identity>:<ns>:<env>` (database-identity.ts), shared by the
 *   replicas behind each one's own copies (replica-cache.ts).
 * - changeFeed: PostgresChangeFeed.start({ connection, logger }), the LISTEN connection that wakes
 *   watchers and drops stale copies on every replica; it needs a session of its own, so it
 *   connects to PostgreSQL directly, never through PgBouncer's transaction pooling (ChangeWaiters
 *   alone serves a single process, e.g. a benchmark).
 * - verifier: createJwksVerifier({ jwksUrl, ... }) against the users service's JWKS.
 * - outbox: an OutboxRelay publishing change events to the broker; omitted, events wait in
 *   config_outbox for a replica that has one.
 * - readiness: extra checks (the broker); PostgreSQL, Redis and the change feed are always checked.
 */
export interface ConfigAppDeps {
  logger: Logger;
  pool: Pool;
  redis: Redis;
  changeFeed: ChangeFeed;
  verifier: TokenVerifier;
  outbox?: OutboxSignal & { stop(): Promise<void> };
  /** Role a token must carry to write (default "config:write"). */
  writeRole?: string;
  /** When set, reads need a token with this role (or the write role); unset, reads are open to the zone. */
  readRole?: string;
  watch?: { defaultWaitMs?: number; maxWaitMs?: number };
  cacheTtlSeconds?: number;
  /** How often the database identity is read again (default 1000): the longest a restore goes unnoticed by the cache. */
  databaseIdentityCheckMs?: number;
  metrics?: Registry;
  readiness?: Array<{ name: string; check: () => Promise<unknown>; timeoutMs?: number }>;
  /** The kit's startTracing result: one span per request, continuing a W3C traceparent. */
  tracing?: Tracing;
  /** Extra closers run after the service's own (a messaging connection the outbox used). */
  closers?: Array<() => Promise<unknown>>;
}

export async function buildApp(deps: ConfigAppDeps): Promise<ServiceApp> {
  const identity = new DatabaseIdentity(deps.pool, { checkIntervalMs: deps.databaseIdentityCheckMs ?? 1000, logger: deps.logger });
  await identity.refresh();
  identity.start();
  const app = await createService({
    name: "config",
    description: "Versioned, schema-checked configuration per namespace and environment",
    logger: deps.logger,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    readiness: [
      { name: "postgres", check: () => checkPostgres(deps.pool), timeoutMs: 1000 },
      { name: "redis", check: () => checkRedis(deps.redis), timeoutMs: 1000 },
      // Not ready while deaf: watches would not wake, and no copy of this replica can be trusted.
      { name: "change-feed", check: async () => assertListening(deps.changeFeed) },
      ...(deps.readiness ?? []),
    ],
    closers: [
      async () => identity.stop(),
      async () => deps.outbox?.stop(),
      () => closeRedis(deps.redis),
      () => deps.pool.end(),
      ...(deps.closers ?? []),
    ],
  });
  // Long polls would hold app.close() for their whole wait: wake them before it waits for them.
  app.addHook("preClose", async () => {
    await deps.changeFeed.close();
  });

  const store = new VersionStore(deps.pool);
  const cache = new CurrentCache(deps.redis, identity, deps.cacheTtlSeconds === undefined ? {} : { ttlSeconds: deps.cacheTtlSeconds });
  const outbox: OutboxSignal = deps.outbox ?? { kick: () => undefined };
  const entries = new ConfigEntries(store, cache, new ReplicaCache(deps.changeFeed, identity), outbox, deps.logger);
  const writeRole = deps.writeRole ?? "config:write";
  const context: RouteContext = {
    app,
    store,
    entries,
    feed: deps.changeFeed,
    requireWriter: requireRole(deps.verifier, [writeRole], "change configuration"),
    readAccess: deps.readRole ? [requireRole(deps.verifier, [deps.readRole, writeRole], "read configuration")] : [],
    watch: { defaultWaitMs: deps.watch?.defaultWaitMs ?? 30_000, maxWaitMs: deps.watch?.maxWaitMs ?? 60_000 },
  };
  registerConfigMetrics(app.kit.metrics, deps.pool, deps.changeFeed);
  registerNamespaceRoutes(context);
  registerEntryRoutes(context);
  registerVersionRoutes(context);
  registerWatchRoutes(context);
  registerStreamRoute(context);
  registerEffectiveWatchRoute(context);
  return app;
}

function assertListening(feed: ChangeFeed): void {
  if (!feed.listening) throw new Error("LISTEN connection is down");
}
