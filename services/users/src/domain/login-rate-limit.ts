import { createHash } from "node:crypto";
import { redisScript, type Redis } from "@fundament/kit";

export interface LoginRateLimitSettings {
  windowSeconds: number;
  /** Failed logins an account may have in a window before it is locked until the window ends. */
  accountMax: number;
  /** Login attempts (any outcome) one client address may make in a window. */
  ipMax: number;
}

export type LimitDecision =
  | { allowed: true; /** Failed logins the account had in the window when this attempt was counted. */ failures: number }
  | { allowed: false; scope: "account" | "ip"; retryAfterSeconds: number };

/** Fixed window: the first hit creates the key with the window as its TTL; atomic in Redis. */
const HIT = redisScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`);

/**
 * One round trip per login attempt: counts it against the address (as HIT) and reads the
 * account's failures with their TTL. Every login waits on this before its hash, so a second
 * round trip would add its latency to every login and its CPU to Redis and the service.
 * Two keys in one script is fine on the platform's Redis, one server without cluster slots; a
 * Redis Cluster would need the two keys in one slot (a shared {hash tag}).
 */
const ATTEMPT = redisScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local failures = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
return {n, redis.call('PTTL', KEYS[1]), failures, redis.call('PTTL', KEYS[2])}
`);

/** Emails are hashed into key names: Redis holds no address in the clear. */
function accountKey(email: string): string {
  return `users:login:account:${createHash("sha256").update(email).digest("base64url")}`;
}

function ipKey(ip: string): string {
  return `users:login:ip:${ip}`;
}

export class LoginRateLimit {
  constructor(
    private readonly redis: Redis,
    readonly settings: LoginRateLimitSettings,
  ) {}

  private async hit(key: string): Promise<{ count: number; ttlMs: number }> {
    const [count, ttlMs] = (await HIT.run(this.redis, [key], [String(this.settings.windowSeconds * 1000)])) as [number, number];
    return { count, ttlMs };
  }

  /** Counts the attempt against the address and refuses it when either limit is reached. */
  async attempt(email: string, ip: string): Promise<LimitDecision> {
    const [ipCount, ipTtlMs, failures, accountTtlMs] = (await ATTEMPT.run(this.redis, [ipKey(ip), accountKey(email)], [String(this.settings.windowSeconds * 1000)])) as [
      number,
      number,
      number,
      number,
    ];
    if (ipCount > this.settings.ipMax) return { allowed: false, scope: "ip", retryAfterSeconds: ipTtlMs / 1000 };
    if (failures >= this.settings.accountMax) {
      return { allowed: false, scope: "account", retryAfterSeconds: accountTtlMs > 0 ? accountTtlMs / 1000 : this.settings.windowSeconds };
    }
    return { allowed: true, failures };
  }

  /** Records a failed login; true when this failure locked the account. */
  async failed(email: string): Promise<boolean> {
    const { count } = await this.hit(accountKey(email));
    return count === this.settings.accountMax;
  }

  /**
   * A successful login forgives earlier failures. `failuresSeen` is what the attempt read: with
   * none, there is nothing to forgive and no round trip is made (most logins). A failure counted
   * by a concurrent attempt after that read stays counted, which errs on the safe side.
   */
  async succeeded(email: string, failuresSeen: number): Promise<void> {
    if (failuresSeen > 0) await this.redis.del(accountKey(email));
  }
}
