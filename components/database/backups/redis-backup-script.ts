import { backupScriptProblems } from "./backup-script";
import { backupRunClose, backupRunOpen, backupRunWorkDir } from "./backup-run-shell";
import { REDIS_BACKUP_USER } from "../redis/redis-acl";

export interface RedisBackupScriptInput {
  /** Directory on the backup volume; each run adds one timestamped directory holding dump.rdb. */
  backupDir: string;
  retention: number;
  /** File holding the backup user's password. */
  passwordFile: string;
  /** The CA redis-cli verifies the server against (Redis speaks TLS only). */
  caFile: string;
}

/**
 * The Redis backup job's script, run with the Redis image itself (its redis-cli and
 * redis-check-rdb match the server; Debian's dash and coreutils do the rest). `redis-cli --rdb`
 * asks the server for a fresh snapshot over the replication protocol (REPLCONF, then SYNC: the
 * only two commands the backup user may run), so the job needs the network, not the server's
 * volume. The transfer runs over TLS with the server verified against the CA and the host name
 * it was dialled by (--sni names it for the server; Redis has no plain port). redis-check-rdb verifies the file before the run counts as complete. The password
 * reaches redis-cli through REDISCLI_AUTH, never its arguments.
 * Restore: README, "Restoring Redis".
 */
export function renderRedisBackupScript(input: RedisBackupScriptInput): string {
  const problems = backupScriptProblems(input);
  for (const field of ["passwordFile", "caFile"] as const) {
    if (!/^\/[A-Za-z0-9_./-]+$/.test(input[field])) problems.push(`${field}: must be an absolute plain path (got ${JSON.stringify(input[field])})`);
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return `#!/bin/sh
# Rendered by fundament (components/database/backups/redis-backup-script.ts); see that file for the design.
${backupRunOpen({ job: "redis-backup", ...input })}
: "\${REDIS_HOST:?REDIS_HOST must name the Redis host}"
: "\${REDIS_PORT:?REDIS_PORT must be the Redis port}"

${backupRunWorkDir()}
REDISCLI_AUTH=$(cat '${input.passwordFile}') redis-cli --no-auth-warning --tls --cacert '${input.caFile}' --sni "$REDIS_HOST" -h "$REDIS_HOST" -p "$REDIS_PORT" --user ${REDIS_BACKUP_USER} --rdb "$work/dump.rdb" > "$work/transfer.log" 2>&1 \\
  || { cat "$work/transfer.log" >&2; fail "redis-cli --rdb from $REDIS_HOST:$REDIS_PORT"; }
redis-check-rdb "$work/dump.rdb" > "$work/check.log" 2>&1 || { cat "$work/check.log" >&2; fail "dump.rdb from $REDIS_HOST does not check"; }
rm -f "$work/transfer.log"
keys=$(grep -o '[0-9]* keys read' "$work/check.log" | tr -dc '0-9' || true)

${backupRunClose("copied the snapshot of $REDIS_HOST (${keys:-0} keys read back)")}`;
}
