import { createHash } from "node:crypto";
import type { Redis } from "@fundament/kit";

export interface LoginRateLimitSettings {
  windowSeconds: number;
  /** Failed logins an account may have in a window before it is locked until the window ends. */
  accountMax: number;
  /** Login attempts (any outcome) one client address may make in a window. */
  ipMax: number;
}

export type LimitDecision = { allowed: true } | { allowed: false; scope: "account" | "ip"; retryAfterSeconds: number };

/** Fixed window: the first hit creates the key with the window as its TTL; atomic in Redis. */
const HIT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
`;

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
    const [count, ttlMs] = (await this.redis.eval(HIT, 1, key, String(this.settings.windowSeconds * 1000))) as [number, number];
    return { count, ttlMs };
  }

  /** Counts the attempt against the address and refuses it when either limit is reached. */
  async attempt(email: string, ip: string): Promise<LimitDecision> {
    const [byIp, account] = await Promise.all([
      this.hit(ipKey(ip)),
      this.redis.multi().get(accountKey(email)).pttl(accountKey(email)).exec(),
    ]);
    if (byIp.count > this.settings.ipMax) return { allowed: false, scope: "ip", retryAfterSeconds: byIp.ttlMs / 1000 };
    const failures = Number(account?.[0]?.[1] ?? 0);
    const ttlMs = Number(account?.[1]?.[1] ?? -1);
    if (failures >= this.settings.accountMax) {
      return { allowed: false, scope: "account", retryAfterSeconds: ttlMs > 0 ? ttlMs / 1000 : this.settings.windowSeconds };
    }
    return { allowed: true };
  }

  /** Records a failed login; true when this failure locked the account. */
  async failed(email: string): Promise<boolean> {
    const { count } = await this.hit(accountKey(email));
    return count === this.settings.accountMax;
  }

  /** A successful login forgives earlier failures. */
  async succeeded(email: string): Promise<void> {
    await this.redis.del(accountKey(email));
  }
}
