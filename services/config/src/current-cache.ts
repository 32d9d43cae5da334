import type { Redis } from "ioredis";
import { redisScript } from "@fundament/kit";
import type { IdentitySource } from "./database-identity";
import type { VersionRecord } from "./version-store";

/**
 * Stores `value` only when the cached copy is absent or older. A reader that fetched version N
 * from PostgreSQL just before a writer committed N+1 would otherwise put N back after the
 * writer replaced it, and serve stale config until the TTL ran out.
 */
const SET_IF_NEWER = redisScript(`
local cached = redis.call('GET', KEYS[1])
if cached then
  local version = tonumber(string.match(cached, '^(%d+):'))
  if version and version >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])
return 1
`);

export interface CurrentCacheOptions {
  /** Bounds how long a copy can outlive a change whose replacement failed (Redis was down). */
  ttlSeconds?: number;
  keyPrefix?: string;
}

/**
 * Current versions in Redis, shared by every replica; the value is `<version>:<json>`. Keys carry
 * the database identity (database-identity.ts): version numbers only order versions within one
 * history, and a restored database starts its history again from the backup's version, so a
 * cached copy counts only for the database it was read from. While the identity is unknown the
 * cache is bypassed: nothing is served from it and nothing is put in.
 */
export class CurrentCache {
  private readonly ttlSeconds: number;
  private readonly keyPrefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly identity: IdentitySource,
    options: CurrentCacheOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 300;
    this.keyPrefix = options.keyPrefix ?? "config:current:";
  }

  /** The database identity now: take it before reading PostgreSQL, and hand it to `offer`. */
  get identityNow(): string | undefined {
    return this.identity.current;
  }

  /** The key of an entry under a database identity (default: the current one); undefined while that is unknown. */
  key(namespace: string, environment: string, identity: string | undefined = this.identity.current): string | undefined {
    return identity === undefined ? undefined : `${this.keyPrefix}${identity}:${namespace}:${environment}`;
  }

  async get(namespace: string, environment: string): Promise<VersionRecord | undefined> {
    const cached = await this.getJson(namespace, environment);
    return cached === undefined ? undefined : (JSON.parse(cached.json) as VersionRecord);
  }

  /** The cached version as stored: its number and its JSON, for answering without a parse. */
  async getJson(namespace: string, environment: string): Promise<{ version: number; json: string } | undefined> {
    const key = this.key(namespace, environment);
    if (key === undefined) return undefined;
    const raw = await this.redis.get(key);
    if (raw === null) return undefined;
    const separator = raw.indexOf(":");
    return separator < 0 ? undefined : { version: Number(raw.slice(0, separator)), json: raw.slice(separator + 1) };
  }

  /**
   * Stores a version read from PostgreSQL or just written; refused when a newer one is cached, and
   * when the database identity changed since `readUnder` was taken before the read: the record may
   * then come from the database that was replaced.
   */
  async offer(record: VersionRecord, readUnder: string | undefined): Promise<boolean> {
    if (readUnder === undefined || readUnder !== this.identity.current) return false;
    const key = this.key(record.namespace, record.environment, readUnder);
    if (key === undefined) return false;
    const stored = await SET_IF_NEWER.run(this.redis, [key], [String(record.version), JSON.stringify(record), String(this.ttlSeconds)]);
    return stored === 1;
  }

  /** Drops an entry outright (used when the cached copy cannot be trusted). */
  async invalidate(namespace: string, environment: string): Promise<void> {
    const key = this.key(namespace, environment);
    if (key !== undefined) await this.redis.del(key);
  }
}
