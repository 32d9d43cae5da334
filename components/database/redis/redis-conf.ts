// redis.conf for the platform's Redis: durable (RDB + AOF), memory-bounded, ACL-only access, TLS
// only. Every directive below is accepted by Redis 8.0 (the pinned image and the redis-server the
// config tests start); the official image and Debian's package are both built with TLS support.

export type EvictionPolicy =
  | "noeviction"
  | "allkeys-lru"
  | "allkeys-lfu"
  | "volatile-lru"
  | "volatile-lfu"
  | "allkeys-random"
  | "volatile-random"
  | "volatile-ttl";

export const EVICTION_POLICIES: readonly EvictionPolicy[] = [
  "noeviction",
  "allkeys-lru",
  "allkeys-lfu",
  "volatile-lru",
  "volatile-lfu",
  "allkeys-random",
  "volatile-random",
  "volatile-ttl",
];

/** Below this the half left outside maxmemory (client buffers, AOF buffer, allocator) gets too thin. */
export const REDIS_MIN_MEMORY_MIB = 128;

export const REDIS_PORT = 6379;

/** Where redis-server finds its TLS material (components/pki delivers the three files). */
export interface RedisTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** The protocol versions the server accepts: nothing older than TLS 1.2. */
export const REDIS_TLS_PROTOCOLS = "TLSv1.2 TLSv1.3";

export interface RedisConfInput {
  /** The container's memory limit; maxmemory is derived from it. */
  memoryLimitMiB: number;
  evictionPolicy: EvictionPolicy;
  /** Where the rendered ACL file is mounted. */
  aclFilePath: string;
  /** The data volume: RDB snapshot and AOF directory. */
  dataDir: string;
  tls: RedisTlsFiles;
  port?: number;
}

const PLAIN_PATH = /^\/[A-Za-z0-9_./-]+$/;

/**
 * The listener: TLS on the data port, the plain port off (`port 0`), so nothing on the network
 * reaches Redis without a handshake against the platform leaf. Clients authenticate with their ACL
 * user and password, not with certificates: `tls-auth-clients no`. `optional` would verify a
 * certificate a client chose to send, but Redis 8.0 maps no certificate to an ACL user, so it
 * would add a second trust path (any platform leaf) without adding an identity; the ACL password
 * stays the one credential and every client keeps verifying the server against the CA.
 */
export function renderRedisTlsDirectives(tls: RedisTlsFiles, port: number = REDIS_PORT): string[] {
  const problems = (["caFile", "certFile", "keyFile"] as const)
    .filter((field) => !PLAIN_PATH.test(tls[field]))
    .map((field) => `redis tls.${field}: must be an absolute path of letters, digits, _ . / - (got ${JSON.stringify(tls[field])})`);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return [
    "port 0",
    `tls-port ${port}`,
    `tls-cert-file ${tls.certFile}`,
    `tls-key-file ${tls.keyFile}`,
    `tls-ca-cert-file ${tls.caFile}`,
    "tls-auth-clients no",
    `tls-protocols "${REDIS_TLS_PROTOCOLS}"`,
    "tls-prefer-server-ciphers yes",
    "tls-session-caching yes",
  ];
}

/**
 * maxmemory for a container limit. BGSAVE and BGREWRITEAOF fork; under a write-heavy load the
 * child's copy-on-write pages can approach the dataset size, so the dataset may use at most half
 * of the limit. Without this the kernel's OOM killer, not Redis's eviction policy, decides what
 * happens at the limit.
 */
export function redisMaxMemoryMiB(memoryLimitMiB: number): number {
  if (!Number.isInteger(memoryLimitMiB) || memoryLimitMiB < REDIS_MIN_MEMORY_MIB) {
    throw new Error(`redis memoryLimitMiB: must be an integer of at least ${REDIS_MIN_MEMORY_MIB} (got ${memoryLimitMiB})`);
  }
  return Math.floor(memoryLimitMiB / 2);
}

export function renderRedisConf(input: RedisConfInput): string {
  const maxmemory = redisMaxMemoryMiB(input.memoryLimitMiB);
  const lines = [
    "# Rendered by fundament (components/database/redis/redis-conf.ts); local edits are overwritten.",
    "",
    "# Network: TLS only, reachable inside the backend zone only; protected mode stays on as a second lock.",
    ...renderRedisTlsDirectives(input.tls, input.port ?? REDIS_PORT),
    "bind * -::*",
    "protected-mode yes",
    "tcp-keepalive 300",
    "timeout 0",
    "daemonize no",
    "supervised no",
    'logfile ""',
    "loglevel notice",
    "",
    "# Durability: RDB snapshots for fast restarts and backups, AOF so at most ~1 s of writes is lost.",
    `dir ${input.dataDir}`,
    "save 3600 1 300 100 60 10000",
    "stop-writes-on-bgsave-error yes",
    "rdbcompression yes",
    "rdbchecksum yes",
    "dbfilename dump.rdb",
    "appendonly yes",
    'appendfilename "appendonly.aof"',
    'appenddirname "appendonlydir"',
    "appendfsync everysec",
    "no-appendfsync-on-rewrite no",
    "auto-aof-rewrite-percentage 100",
    "auto-aof-rewrite-min-size 64mb",
    "aof-load-truncated yes",
    "aof-use-rdb-preamble yes",
    "",
    `# Memory: half of the ${input.memoryLimitMiB} MiB container limit, the rest is fork and buffer headroom.`,
    `maxmemory ${maxmemory}mb`,
    `maxmemory-policy ${input.evictionPolicy}`,
    "maxmemory-samples 5",
    "",
    "# Access: users and their permissions live in the ACL file (password hashes only).",
    `aclfile ${input.aclFilePath}`,
    "acllog-max-len 128",
    "# Refused to every connection before ACLs are even consulted (the ACL file refuses them too).",
    "enable-debug-command no",
    "enable-module-command no",
    "enable-protected-configs no",
    "",
  ];
  return lines.join("\n");
}
