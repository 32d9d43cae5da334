import { backupScriptProblems } from "./backup-script";
import { backupRunClose, backupRunOpen, backupRunWorkDir } from "./backup-run-shell";

/** The backup job's MongoDB user: role `backup` on admin (mongo-init-script.ts creates it). */
export const MONGO_BACKUP_USER = "fundament-backup";
export const MONGO_BACKUP_ARCHIVE = "mongo.archive.gz";

export interface MongoBackupScriptInput {
  /** Directory on the backup volume; each run adds one timestamped directory holding the archive. */
  backupDir: string;
  retention: number;
  /** mongodump's --config file (renderMongodumpConfig): the only place the password is. */
  configFile: string;
  /** The platform CA mongodump verifies mongod against (mongod requires TLS). */
  caFile: string;
}

/**
 * mongodump's YAML --config file. mongodump reads `uri` and `password` from it (the MongoDB
 * Database Tools document exactly these and sslPEMKeyPassword for --config), so the credential
 * is in a secret file, never in argv where `ps` shows it. SCRAM over TLS (the TLS switches are
 * on the command line, renderMongoBackupScript); directConnection because the job talks to the
 * one member, by the host name its leaf carries.
 */
export function renderMongodumpConfig(input: { host: string; port: number; password: string }): string {
  const uri = `mongodb://${MONGO_BACKUP_USER}:${encodeURIComponent(input.password)}@${input.host}:${input.port}/?authSource=admin&directConnection=true`;
  return `uri: ${JSON.stringify(uri)}\n`;
}

/**
 * The MongoDB backup job's script, run with the MongoDB image (it installs mongodb-org-tools,
 * which brings mongodump; Ubuntu's dash, coreutils and gzip do the rest).
 * `mongodump --archive --gzip --oplog` writes every database as one gzip stream and copies the
 * oplog entries written while it ran, so `mongorestore --oplogReplay` restores one consistent
 * point in time. --oplog needs a node that keeps an oplog: a replica set member, which the
 * platform's single-node replica set is. The archive must be a complete gzip stream before the
 * run counts. Restore: scripts/mongo-restore.sh.
 *
 * TLS: mongod requires it. The Database Tools spell the switches `--ssl` and `--sslCAFile` (they
 * have no `--tls` flag: mongo-tools common/options/options.go); with a CA file and none of the
 * insecure or allow-invalid switches, the tools verify the chain and the host name
 * (common/db/db.go leaves InsecureSkipVerify off), with TLS 1.2 as the floor.
 */
export function renderMongoBackupScript(input: MongoBackupScriptInput): string {
  const problems = backupScriptProblems(input);
  for (const field of ["configFile", "caFile"] as const) {
    if (!/^\/[A-Za-z0-9_./-]+$/.test(input[field])) problems.push(`${field}: must be an absolute plain path (got ${JSON.stringify(input[field])})`);
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return `#!/bin/sh
# Rendered by fundament (components/database/backups/mongo-backup-script.ts); see that file for the design.
${backupRunOpen({ job: "mongo-backup", ...input })}
${backupRunWorkDir()}
mongodump --config='${input.configFile}' --ssl --sslCAFile='${input.caFile}' --archive="$work/${MONGO_BACKUP_ARCHIVE}" --gzip --oplog > "$work/mongodump.log" 2>&1 \\
  || { cat "$work/mongodump.log" >&2; fail "mongodump"; }
gzip -t "$work/${MONGO_BACKUP_ARCHIVE}" || fail "${MONGO_BACKUP_ARCHIVE} is not a complete gzip stream"

${backupRunClose("dumped every database with its oplog")}`;
}
