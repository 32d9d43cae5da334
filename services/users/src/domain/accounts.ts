import { httpErrors, type Logger, type Pool } from "@fundament/kit";
import type { AccessTokens } from "./access-tokens";
import type { AccountCache } from "./account-cache";
import type { LoginRateLimit } from "./login-rate-limit";
import type { OutboxRelay } from "@fundament/kit/messaging";
import { enqueueEvent } from "./users-outbox";
import type { PasswordHasher } from "./password-hasher";
import { passwordProblem, type PasswordPolicy } from "./password-policy";
import type { RefreshTokens } from "./refresh-tokens";
import { userDisabled, userRegistered } from "./user-events";
import { AccountLoader } from "./account-loader";
import { normaliseEmail, userRecords, type UserRecord } from "./user-records";

export interface AccountsDeps {
  pool: Pool;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  rateLimit: LoginRateLimit;
  outbox: OutboxRelay;
  log: Logger;
  /**
   * Accounts read for authenticated requests, kept coherent by the change feed: a change by any
   * replica (or by SQL) is seen once its NOTIFY arrives, this replica's own at once.
   */
  cache: AccountCache;
}

export interface TokenPair {
  accessToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  refreshToken: string;
}

/** The part of a user anyone may see about themselves, and admins about everyone. */
export interface PublicUser {
  id: string;
  email: string;
  displayName: string | null;
  roles: string[];
  disabled: boolean;
  createdAt: string;
}

export function publicUser(user: UserRecord): PublicUser {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    roles: user.roles,
    disabled: user.disabledAt !== null,
    createdAt: user.createdAt.toISOString(),
  };
}

const INVALID_CREDENTIALS = () => httpErrors.unauthorized("email or password is wrong", "INVALID_CREDENTIALS");

/** The use cases of the users service; routes only translate HTTP to these calls. */
export class Accounts {
  private readonly loader: AccountLoader;

  constructor(private readonly deps: AccountsDeps) {
    this.loader = new AccountLoader(deps.pool);
  }

  checkPassword(password: string, field = "body.password"): void {
    const problem = passwordProblem(password, this.deps.policy);
    if (problem) throw httpErrors.badInput(field, problem);
  }

  async register(input: { email: string; password: string; displayName?: string }, roles: string[] = ["user"]): Promise<PublicUser> {
    this.checkPassword(input.password);
    const passwordHash = await this.deps.hasher.hash(input.password);
    const client = await this.deps.pool.connect();
    let created: UserRecord | undefined;
    try {
      await client.query("begin");
      created = await userRecords.insert(client, { email: input.email, displayName: input.displayName ?? null, passwordHash, roles });
      if (created) {
        await enqueueEvent(client, userRegistered, { userId: created.id, email: created.email, roles: created.roles, registeredAt: created.createdAt.toISOString() });
      }
      await client.query("commit");
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    if (!created) throw httpErrors.conflict("body.email: an account with this email already exists", "EMAIL_TAKEN", [{ field: "body.email", reason: "is already registered" }]);
    this.deps.outbox.kick();
    return publicUser(created);
  }

  async login(input: { email: string; password: string }, ip: string): Promise<TokenPair> {
    const email = normaliseEmail(input.email);
    const decision = await this.deps.rateLimit.attempt(email, ip);
    if (!decision.allowed) {
      throw httpErrors.tooManyRequests(decision.retryAfterSeconds, decision.scope === "account" ? "too many failed logins for this account; try again later" : "too many login attempts from this address; try again later");
    }
    const user = await userRecords.byEmail(this.deps.pool, email);
    const valid = user ? await this.deps.hasher.verify(user.passwordHash, input.password) : await this.deps.hasher.verifyNothing(input.password);
    if (!user || !valid) {
      if (await this.deps.rateLimit.failed(email)) {
        this.deps.log.warn({ event: "login.lockout", userId: user?.id ?? null, ip, windowSeconds: this.deps.rateLimit.settings.windowSeconds }, "account locked out after repeated failed logins");
      }
      throw INVALID_CREDENTIALS();
    }
    if (user.disabledAt !== null) throw httpErrors.forbidden("this account is disabled", "ACCOUNT_DISABLED");
    await this.deps.rateLimit.succeeded(email, decision.failures);
    if (this.deps.hasher.needsRehash(user.passwordHash)) {
      // The password is only ever known here, so this is the moment to move it to today's parameters.
      const upgraded = await this.deps.hasher.hash(input.password);
      await userRecords.replaceHash(this.deps.pool, user.id, user.passwordHash, upgraded);
      this.deps.cache.changed(user.id);
      this.deps.log.info({ userId: user.id }, "password hash upgraded to current argon2id parameters");
    }
    return this.tokensFor(user, await this.deps.refreshTokens.issue(user.id));
  }

  private async tokensFor(user: { id: string; roles: string[] }, refreshToken: string): Promise<TokenPair> {
    const accessToken = await this.deps.accessTokens.issue({ userId: user.id, roles: user.roles });
    return { accessToken, tokenType: "Bearer", expiresIn: this.deps.accessTokens.settings.ttlSeconds, refreshToken };
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    let current: UserRecord | undefined;
    const outcome = await this.deps.refreshTokens.rotate(refreshToken, async (userId, db) => {
      current = await userRecords.byId(db, userId);
      return current !== undefined && current.disabledAt === null;
    });
    switch (outcome.kind) {
      case "rotated":
        return this.tokensFor(current!, outcome.token);
      case "reused":
        this.deps.log.warn({ event: "refresh.reuse", userId: outcome.userId, familyId: outcome.familyId }, "refresh token reused: token family revoked");
        throw httpErrors.unauthorized("refresh token was already used; every session of this login is revoked", "REFRESH_TOKEN_REUSED");
      case "expired":
        throw httpErrors.unauthorized("refresh token expired", "REFRESH_TOKEN_EXPIRED");
      case "revoked":
        throw httpErrors.unauthorized("refresh token revoked", "REFRESH_TOKEN_REVOKED");
      case "unknown":
        throw httpErrors.unauthorized("refresh token is not valid", "REFRESH_TOKEN_INVALID");
    }
  }

  async logout(refreshToken: string): Promise<void> {
    // Unknown tokens are accepted silently: logout must not reveal which tokens exist.
    await this.deps.refreshTokens.revokeFamilyOf(refreshToken);
  }

  /** The account from the cache, checked as activeUser checks it; undefined when not cached. */
  cachedActiveUser(userId: string): UserRecord | undefined {
    const user = this.deps.cache.get(userId);
    if (user && user.disabledAt !== null) throw httpErrors.forbidden("this account is disabled", "ACCOUNT_DISABLED");
    return user;
  }

  async activeUser(userId: string): Promise<UserRecord> {
    let user = this.deps.cache.get(userId);
    if (!user) {
      // Taken before the read: a change notified while it runs keeps its result out of the cache.
      const ticket = this.deps.cache.ticket();
      user = await this.loader.load(userId);
      if (user) this.deps.cache.offer(user, ticket);
    }
    if (!user) throw httpErrors.unauthorized("the account of this token no longer exists", "TOKEN_INVALID");
    if (user.disabledAt !== null) throw httpErrors.forbidden("this account is disabled", "ACCOUNT_DISABLED");
    return user;
  }

  async list(page: { limit: number; offset: number; email?: string }): Promise<{ items: PublicUser[]; total: number }> {
    const { users, total } = await userRecords.list(this.deps.pool, page);
    return { items: users.map(publicUser), total };
  }

  async disable(userId: string, by: string): Promise<PublicUser> {
    if (userId === by) throw httpErrors.conflict("params.id: administrators cannot disable their own account", "CANNOT_DISABLE_SELF");
    const client = await this.deps.pool.connect();
    let result: Awaited<ReturnType<typeof userRecords.disable>>;
    try {
      await client.query("begin");
      result = await userRecords.disable(client, userId, by);
      if (result?.changed) {
        await this.deps.refreshTokens.revokeAllOf(userId, client);
        await enqueueEvent(client, userDisabled, { userId, disabledBy: by, disabledAt: result.user.disabledAt!.toISOString() });
      }
      await client.query("commit");
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    // This replica reads its own write at once, before its NOTIFY comes back.
    this.deps.cache.changed(userId);
    if (!result) throw httpErrors.notFound("user");
    if (result.changed) {
      this.deps.outbox.kick();
      this.deps.log.info({ event: "user.disabled", userId, by }, "user disabled");
    }
    return publicUser(result.user);
  }

  async assignRoles(userId: string, roles: string[], by: string): Promise<PublicUser> {
    const unique = [...new Set(roles)].sort();
    if (userId === by && !unique.includes("admin")) {
      throw httpErrors.conflict("body.roles: administrators cannot remove their own admin role", "CANNOT_DEMOTE_SELF");
    }
    const updated = await userRecords.setRoles(this.deps.pool, userId, unique);
    // This replica reads its own write at once, before its NOTIFY comes back.
    this.deps.cache.changed(userId);
    if (!updated) throw httpErrors.notFound("user");
    this.deps.log.info({ event: "user.roles", userId, roles: unique, by }, "roles assigned");
    return publicUser(updated);
  }
}
