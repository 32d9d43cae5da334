// The Redis ACL file. It holds SHA-256 hashes of the passwords, never the passwords themselves,
// so it can travel as an ordinary (non-secret) file.
import { createHash } from "node:crypto";

export type RedisAclRole = "application" | "healthcheck" | "exporter" | "backup";

export interface RedisAclUser {
  name: string;
  role: RedisAclRole;
  /** Lower-case hex SHA-256 of the password (see redisPasswordHash). */
  passwordSha256: string;
}

/** Users the platform itself needs; a consuming service may not take these names. */
export const REDIS_HEALTH_USER = "fundament-health";
export const REDIS_EXPORTER_USER = "fundament-exporter";
export const REDIS_BACKUP_USER = "fundament-backup";
export const REDIS_RESERVED_USERS: readonly string[] = ["default", REDIS_HEALTH_USER, REDIS_EXPORTER_USER, REDIS_BACKUP_USER];

/** Redis ACL user names are free-form; this keeps them to names that read well in ACL LOG and CLIENT LIST. */
export const REDIS_USER_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Applications may use every data command, but nothing that wipes data or changes the server:
 * @dangerous covers FLUSHALL, FLUSHDB, CONFIG, DEBUG, SHUTDOWN, ACL, MONITOR, replication and
 * module commands. INFO is given back because clients (ioredis's ready check) call it on
 * connect. The four commands the platform promises to refuse are also named explicitly, so a
 * future change to the category cannot quietly hand them back.
 */
export const REDIS_APPLICATION_RULES = "resetkeys resetchannels ~* &* -@all +@all -@dangerous +info -flushall -flushdb -config -debug";

/** Only PING: the healthcheck proves authentication works and nothing more. */
export const REDIS_HEALTHCHECK_RULES = "resetkeys resetchannels -@all +ping";

/** The read-only command set redis_exporter's README documents for a dedicated exporter user. */
export const REDIS_EXPORTER_RULES =
  "resetchannels -@all +client +ping +info +config|get +cluster|info +slowlog +latency +memory +select +get +scan +xinfo +type +pfcount +strlen +llen +scard +zcard +hlen +xlen +eval allkeys";

/**
 * What `redis-cli --rdb` sends (REPLCONF capabilities, then SYNC) and nothing else: the user can
 * copy the whole dataset, which is the point, but neither read single keys nor write.
 */
export const REDIS_BACKUP_RULES = "resetkeys resetchannels -@all +replconf +sync";

const RULES: Record<RedisAclRole, string> = {
  application: REDIS_APPLICATION_RULES,
  healthcheck: REDIS_HEALTHCHECK_RULES,
  exporter: REDIS_EXPORTER_RULES,
  backup: REDIS_BACKUP_RULES,
};

export function redisPasswordHash(password: string): string {
  return createHash("sha256").update(password, "utf8").digest("hex");
}

export function renderRedisAcl(users: readonly RedisAclUser[]): string {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const user of users) {
    if (!REDIS_USER_NAME.test(user.name)) {
      problems.push(`redis acl user ${JSON.stringify(user.name)}: name must match ${REDIS_USER_NAME}`);
    }
    if (user.name === "default") problems.push(`redis acl user "default": is always rendered disabled and cannot be given a role`);
    if (seen.has(user.name)) problems.push(`redis acl user ${JSON.stringify(user.name)}: appears twice`);
    seen.add(user.name);
    if (!/^[0-9a-f]{64}$/.test(user.passwordSha256)) {
      problems.push(`redis acl user ${JSON.stringify(user.name)}: passwordSha256 must be 64 lower-case hex digits`);
    }
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));

  const lines = [
    // Disabled and without any password: no connection can act as the default user, whatever it sends.
    "user default off resetpass resetkeys resetchannels -@all",
    ...users.map((user) => `user ${user.name} on resetpass #${user.passwordSha256} ${RULES[user.role]}`),
    "",
  ];
  return lines.join("\n");
}
