import { OutboxRelay, type OutboxPublisher } from "@fundament/kit/messaging";
import { checkPostgres, checkRedis, closeRedis, createService, registerPoolMetrics, type Logger, type Pool, type Redis, type ServiceApp, type Tracing } from "@fundament/kit";
import { AccessTokens } from "./domain/access-tokens";
import { KeySetChanges } from "./domain/key-set-changes";
import type { AccountFeed } from "./domain/account-feed";
import { Accounts } from "./domain/accounts";
import { ensureBootstrapAdmin } from "./domain/bootstrap-admin";
import { LoginRateLimit, type LoginRateLimitSettings } from "./domain/login-rate-limit";
import { USERS_OUTBOX } from "./domain/users-outbox";
import { PasswordHasher, type Argon2Params } from "./domain/password-hasher";
import { loadCommonPasswords } from "./domain/password-policy";
import { RefreshTokens } from "./domain/refresh-tokens";
import type { TokenKeys } from "./domain/token-keys";
import { USER_EVENT_TYPES } from "./domain/user-events";
import { installAuthentication } from "./plugins/authentication";
import { authRoutes } from "./routes/auth/auth-routes";
import { jwksRoutes } from "./routes/jwks/jwks-routes";
import { meRoutes } from "./routes/me/me-routes";
import { usersRoutes } from "./routes/users/users-routes";

export interface UsersSettings {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  passwordMinLength: number;
  argon2: Argon2Params;
  /** argon2 calls at once (memory and libuv threads are bounded by it). */
  argon2MaxConcurrency: number;
  rateLimit: LoginRateLimitSettings;
  outboxPollMs: number;
  /** Verified access tokens remembered at most (default 50,000). */
  verifiedTokenCacheMaxEntries?: number;
}

/** The broker link: confirmed publish for the outbox, `connected` for readiness. */
export interface UsersMessaging extends OutboxPublisher {
  readonly connected: boolean;
  close(): Promise<void>;
}

export interface UsersDeps {
  logger: Logger;
  /**
   * Reads the key files again every `everyMs`; a changed set replaces the one in use (tokens of
   * a kid it no longer lists are refused from the next request). server.ts sets it.
   */
  keyReload?: { everyMs: number; load: () => Promise<TokenKeys> };
  pool: Pool;
  redis: Redis;
  messaging: UsersMessaging;
  /** The account cache and the LISTEN session that keeps it coherent across replicas. */
  accountFeed: AccountFeed;
  keys: TokenKeys;
  settings: UsersSettings;
  bootstrapAdmin?: { email: string; password: string };
  /** Defaults to the bundled list. */
  commonPasswords?: ReadonlySet<string>;
  requestLogging?: boolean;
  trustProxy?: boolean | string | string[];
  /** Request spans over OTLP; flushed when the app closes. */
  tracing?: Tracing;
}

export async function buildApp(deps: UsersDeps): Promise<ServiceApp> {
  const { settings } = deps;
  const outbox = new OutboxRelay({ pool: deps.pool, publisher: deps.messaging, table: USERS_OUTBOX, types: USER_EVENT_TYPES, logger: deps.logger, pollMs: settings.outboxPollMs });
  const accessTokens = new AccessTokens(deps.keys, { issuer: settings.issuer, audience: settings.audience, ttlSeconds: settings.accessTokenTtlSeconds, verifiedCacheMaxEntries: settings.verifiedTokenCacheMaxEntries });
  const accounts = new Accounts({
    pool: deps.pool,
    hasher: new PasswordHasher(settings.argon2, settings.argon2MaxConcurrency),
    policy: { minLength: settings.passwordMinLength, common: deps.commonPasswords ?? loadCommonPasswords() },
    accessTokens,
    refreshTokens: new RefreshTokens(deps.pool, settings.refreshTokenTtlSeconds),
    rateLimit: new LoginRateLimit(deps.redis, settings.rateLimit),
    outbox,
    log: deps.logger,
    cache: deps.accountFeed.cache,
  });

  const app = await createService({
    name: "users",
    description: "Accounts, argon2id passwords, EdDSA access tokens and rotating refresh tokens",
    logger: deps.logger,
    requestLogging: deps.requestLogging ?? true,
    ...(deps.trustProxy !== undefined ? { trustProxy: deps.trustProxy } : {}),
    ...(deps.tracing !== undefined ? { tracing: deps.tracing } : {}),
    readiness: [
      { name: "postgres", check: () => checkPostgres(deps.pool), timeoutMs: 2000 },
      { name: "redis", check: () => checkRedis(deps.redis), timeoutMs: 1000 },
      // Deaf, this replica would serve accounts other replicas changed; it reads through meanwhile.
      {
        name: "account-feed",
        check: async () => {
          if (!deps.accountFeed.listening) throw new Error("LISTEN connection is down");
        },
      },
      {
        name: "rabbitmq",
        check: async () => {
          if (!deps.messaging.connected) throw new Error("not connected to the broker");
        },
      },
    ],
    // In order: no new events relayed, the broker link drained, then the stores closed.
    closers: [() => outbox.stop(), () => deps.messaging.close(), () => deps.accountFeed.close(), () => closeRedis(deps.redis), () => deps.pool.end()],
  });
  registerPoolMetrics(app.kit.metrics, deps.pool);
  const keyChanges = new KeySetChanges();
  // JWKS watches would hold app.close() for their whole wait: answer them before it waits.
  app.addHook("preClose", async () => keyChanges.close());

  const guards = installAuthentication(app, accessTokens, accounts);
  authRoutes(app, accounts);
  meRoutes(app, guards);
  usersRoutes(app, accounts, guards);
  jwksRoutes(app, () => accessTokens.currentKeys, keyChanges);
  if (deps.keyReload && deps.keyReload.everyMs > 0) watchKeys(app, accessTokens, keyChanges, deps.keyReload, deps.logger);

  if (deps.bootstrapAdmin) await ensureBootstrapAdmin(deps.pool, accounts, deps.bootstrapAdmin, deps.logger);
  outbox.start();
  return app;
}

function keyIds(keys: TokenKeys): string {
  return [keys.signing.kid, ...keys.verification.map((key) => key.kid)].join(" ");
}

function watchKeys(app: ServiceApp, tokens: AccessTokens, changes: KeySetChanges, reload: NonNullable<UsersDeps["keyReload"]>, logger: Logger): void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    reload
      .load()
      .then((keys) => {
        const before = keyIds(tokens.currentKeys);
        if (keyIds(keys) === before) return;
        tokens.replaceKeys(keys);
        changes.announce();
        logger.info({ signing: keys.signing.kid, accepted: keys.verification.map((key) => key.kid) }, "token keys replaced");
      })
      // A half-written file is read again next time; the keys in use stay until then.
      .catch((err: unknown) => logger.warn({ err }, "token key files unreadable; keeping the keys in use"))
      .finally(() => {
        busy = false;
      });
  }, reload.everyMs);
  timer.unref();
  app.addHook("onClose", async () => clearInterval(timer));
}
