import { backupRunClose, backupRunOpen, backupRunWorkDir } from "./backup-run-shell";
import { BACKUP_STATUS_TABLE } from "../postgres/postgres-databases";

export interface BackupScriptInput {
  /** Directory on the backup volume; each run adds one timestamped directory under it. */
  backupDir: string;
  /** Completed backups kept; older ones are deleted after a new one succeeds. */
  retention: number;
}

export const MAX_BACKUP_RETENTION = 1000;

export function backupScriptProblems(input: BackupScriptInput, prefix = ""): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(input.retention) || input.retention < 1 || input.retention > MAX_BACKUP_RETENTION) {
    problems.push(`${prefix}retention: must be an integer from 1 to ${MAX_BACKUP_RETENTION} (got ${input.retention})`);
  }
  if (!/^\/[A-Za-z0-9_./-]*$/.test(input.backupDir) || input.backupDir.includes("..") || input.backupDir === "/") {
    problems.push(`${prefix}backupDir: must be an absolute path of letters, digits, '_', '.', '/' and '-', not / (got ${JSON.stringify(input.backupDir)})`);
  }
  return problems;
}

/**
 * The backup job's script (POSIX sh, run with the PostgreSQL image's client tools).
 *
 * Connection comes from the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSFILE), so the
 * script holds no credential. One run:
 *   1. dumps every connectable, non-template database except `postgres` (which holds only the
 *      platform's own status table) with pg_dump's custom format into a hidden work directory,
 *      and checks each archive is readable with `pg_restore --list`; then what a restore onto an
 *      empty cluster needs beyond the databases: roles, their attributes and memberships
 *      (`pg_dumpall --globals-only --no-role-passwords` into globals.sql). Password hashes stay
 *      out: the platform's init SQL sets them on a new cluster, and a non-superuser cannot read
 *      them anyway;
 *   2. renames the work directory to <UTC timestamp>: a directory with a timestamp name is a
 *      complete backup, so a crash never leaves a half backup that looks whole;
 *   3. deletes all but the newest `retention` complete backups;
 *   4. records the time in fundament.backup_status, which the exporter turns into
 *      fundament_backup_last_success_timestamp_seconds.
 * Any failure exits non-zero before step 4, so the timestamp only moves on success.
 * Restore: scripts/postgres-restore.sh.
 */
export function renderPostgresBackupScript(input: BackupScriptInput): string {
  const problems = backupScriptProblems(input);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return `#!/bin/sh
# Rendered by fundament (components/database/backups/backup-script.ts); see that file for the design.
${backupRunOpen({ job: "postgres-backup", ...input })}
: "\${PGHOST:?PGHOST must name the PostgreSQL host}"
: "\${PGUSER:?PGUSER must name the backup role}"

${backupRunWorkDir()}
psql -X -At -v ON_ERROR_STOP=1 -d postgres \\
  -c "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' ORDER BY datname" \\
  > "$work/databases.txt" || fail "cannot list databases on $PGHOST"

count=0
while IFS= read -r db; do
  case "$db" in
    *[!A-Za-z0-9_]* | '') fail "database name '$db' is not a plain identifier; refusing to use it as a file name" ;;
  esac
  pg_dump --format=custom --compress=6 --file="$work/$db.dump" --dbname="$db" || fail "pg_dump of $db"
  pg_restore --list "$work/$db.dump" > /dev/null || fail "archive of $db is unreadable"
  count=$((count + 1))
done < "$work/databases.txt"
pg_dumpall --globals-only --no-role-passwords --database=postgres --file="$work/globals.sql" || fail "pg_dumpall of roles and grants"

${backupRunClose("backed up $count database(s)")}
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "INSERT INTO ${BACKUP_STATUS_TABLE} (last_success, databases, bytes) VALUES (now(), $count, $bytes) ON CONFLICT (only_row) DO UPDATE SET last_success = excluded.last_success, databases = excluded.databases, bytes = excluded.bytes" \\
  || fail "backup is complete but its success could not be recorded"
log "recorded success"
`;
}
