import type { Redis } from "ioredis";
import type { VersionRecord } from "./version-store";

/**
 * Stores `value` only when the cached copy is absent or older. A reader that fetched version N
 * from PostgreSQL just before a writer committed N+1 would otherwise put N back after the
 * writer replaced it, and serve stale config until the TTL ran out.
 */
const SET_IF_NEWER = `
local cached = redis.call('GET', KEYS[1])
if cached then
  local version = tonumber(string.match(cached, '^(%d+):'))
  if version and version >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])
return 1
`;

export interface CurrentCacheOptions {
  /** Bounds how long a copy can outlive a change whose replacement failed (Redis was down). */
  ttlSeconds?: number;
  keyPrefix?: string;
}

/** Current versions in Redis, shared by every replica; the value is `<version>:<json>`. */
export class CurrentCache {
  private readonly ttlSeconds: number;
  private readonly keyPrefix: string;

  constructor(
    private readonly redis: Redis,
    options: CurrentCacheOptions = {},
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 300;
    this.keyPrefix = options.keyPrefix ?? "config:current:";
  }

  key(namespace: string, environment: string): string {
    return `${this.keyPrefix}${namespace}:${environment}`;
  }

  async get(namespace: string, environment: string): Promise<VersionRecord | undefined> {
    const cached = await this.getJson(namespace, environment);
    return cached === undefined ? undefined : (JSON.parse(cached.json) as VersionRecord);
  }

  /** The cached version as stored: its number and its JSON, for answering without a parse. */
  async getJson(namespace: string, environment: string): Promise<{ version: number; json: string } | undefined> {
    const raw = await this.redis.get(this.key(namespace, environment));
    if (raw === null) return undefined;
    const separator = raw.indexOf(":");
    return separator < 0 ? undefined : { version: Number(raw.slice(0, separator)), json: raw.slice(separator + 1) };
  }

  /** Stores a version read from PostgreSQL or just written; refused when a newer one is cached. */
  async offer(record: VersionRecord): Promise<boolean> {
    const stored = await this.redis.eval(
      SET_IF_NEWER,
      1,
      this.key(record.namespace, record.environment),
      String(record.version),
      JSON.stringify(record),
      String(this.ttlSeconds),
    );
    return stored === 1;
  }

  /** Drops an entry outright (used when the cached copy cannot be trusted). */
  async invalidate(namespace: string, environment: string): Promise<void> {
    await this.redis.del(this.key(namespace, environment));
  }
}
