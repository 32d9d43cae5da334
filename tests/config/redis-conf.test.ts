import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EVICTION_POLICIES, REDIS_MIN_MEMORY_MIB, redisMaxMemoryMiB, renderRedisConf } from "../../components/database/redis/redis-conf";

/** The value of each directive that occurs exactly once (redis.conf: later lines win, so duplicates would hide intent). */
function directives(conf: string): Map<string, string> {
  const seen = new Map<string, string>();
  for (const line of conf.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const [name, ...rest] = trimmed.split(/\s+/);
    if (seen.has(name)) throw new Error(`directive ${name} appears twice`);
    seen.set(name, rest.join(" "));
  }
  return seen;
}

const tls = { caFile: "/etc/redis/tls/ca.crt", certFile: "/etc/redis/tls/tls.crt", keyFile: "/etc/redis/tls/tls.key" };
const base = { memoryLimitMiB: 512, evictionPolicy: "allkeys-lru" as const, aclFilePath: "/etc/redis/users.acl", dataDir: "/data", tls };

describe("renderRedisConf", () => {
  it.each([
    ["appendonly", "yes", "AOF on: every write is logged"],
    ["appendfsync", "everysec", "at most about one second of acknowledged writes at risk"],
    ["save", "3600 1 300 100 60 10000", "RDB snapshots for restarts and backups"],
    ["aof-use-rdb-preamble", "yes", "rewrites start from an RDB image, fast to reload"],
    ["protected-mode", "yes", "protected mode on"],
    ["maxmemory", "256mb", "half of a 512 MiB limit"],
    ["maxmemory-policy", "allkeys-lru", "the policy from config"],
    ["aclfile", "/etc/redis/users.acl", "users come from the ACL file"],
    ["dir", "/data", "data on the volume"],
    ["port", "0", "the plain port is off"],
    ["tls-port", "6379", "TLS on the standard port"],
    ["tls-cert-file", "/etc/redis/tls/tls.crt", "the platform leaf"],
    ["tls-key-file", "/etc/redis/tls/tls.key", "its key"],
    ["tls-ca-cert-file", "/etc/redis/tls/ca.crt", "the platform CA"],
    ["tls-auth-clients", "no", "clients authenticate with ACL passwords, not certificates"],
    ["tls-protocols", '"TLSv1.2 TLSv1.3"', "nothing older than TLS 1.2"],
    ["enable-debug-command", "no", "DEBUG refused before ACLs are consulted"],
    ["enable-module-command", "no", "no module loading at runtime"],
  ])("%s is %s (%s)", (directive, value) => {
    expect(directives(renderRedisConf(base)).get(directive)).toBe(value);
  });

  it("holds no password and no inline user (users live only in the ACL file)", () => {
    const conf = directives(renderRedisConf(base));
    expect(conf.has("requirepass")).toBe(false);
    expect(conf.has("masterauth")).toBe(false);
    expect(conf.has("user")).toBe(false);
  });

  it.each(EVICTION_POLICIES)("renders eviction policy %s verbatim", (policy) => {
    expect(directives(renderRedisConf({ ...base, evictionPolicy: policy })).get("maxmemory-policy")).toBe(policy);
  });

  it("refuses a TLS file path it could not write as one word, naming the field", () => {
    expect(() => renderRedisConf({ ...base, tls: { ...tls, keyFile: "relative/key" } })).toThrow(/redis tls\.keyFile: must be an absolute path .*\(got "relative\/key"\)/);
  });

  it("refuses a memory limit too small to leave fork headroom, naming the field", () => {
    expect(() => renderRedisConf({ ...base, memoryLimitMiB: 64 })).toThrow(/memoryLimitMiB: must be an integer of at least 128 \(got 64\)/);
  });

  it("property: maxmemory leaves at least half the limit (and never under 64 MiB) for AOF rewrite and fork", () => {
    fc.assert(
      fc.property(fc.integer({ min: REDIS_MIN_MEMORY_MIB, max: 1024 * 1024 }), fc.constantFrom(...EVICTION_POLICIES), (limit, policy) => {
        const maxmemory = redisMaxMemoryMiB(limit);
        expect(maxmemory).toBeGreaterThan(0);
        expect(2 * maxmemory).toBeLessThanOrEqual(limit);
        expect(limit - maxmemory).toBeGreaterThanOrEqual(64);
        const conf = directives(renderRedisConf({ ...base, memoryLimitMiB: limit, evictionPolicy: policy }));
        expect(conf.get("maxmemory")).toBe(`${maxmemory}mb`);
      }),
    );
  });

  it("property: every limit below the minimum or not a whole number is refused", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ max: REDIS_MIN_MEMORY_MIB - 1 }), fc.double({ noInteger: true })), (limit) => {
        expect(() => redisMaxMemoryMiB(limit)).toThrow(/memoryLimitMiB/);
      }),
    );
  });
});
