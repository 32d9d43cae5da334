import * as pulumi from "@pulumi/pulumi";
import { cronProblem } from "../../config/cron";
import { imageReferenceProblem } from "../../config/image-reference";
import type { DeployedWorkload, Runtime } from "../../runtime/workload";
import { backupScriptProblems, renderPostgresBackupScript } from "./backup-script";
import { caFile } from "../../pki/tls-files";
import { Postgres, POSTGRES_PORT, pgpassFor, VERIFY_FULL } from "../postgres/postgres";
import { PGPASS_MODE } from "../postgres/postgres-pgpass";
import { POSTGRES_IMAGE_USER } from "../postgres/postgres-images";

export interface PostgresBackupArgs {
  runtime: Runtime;
  /** The PostgreSQL image (its pg_dump matches the server's major). */
  image: string;
  postgres: Postgres;
  /** Five-field cron expression, UTC. */
  schedule: string;
  /** Complete backups kept on the volume. */
  retention: number;
  volumeSizeGiB: number;
  /**
   * Not handled here: the PostgreSQL image carries no S3 client (no aws, mc or curl), so this
   * job cannot upload. PostgresBackupUpload (backup-upload.ts) mirrors this job's volume to a
   * bucket with the MinIO client image. Passing this fails the deployment rather than silently
   * keeping backups on the volume only.
   */
  objectStorage?: { endpoint: pulumi.Input<string>; bucket: string; accessKey: pulumi.Input<string>; secretKey: pulumi.Input<string> };
}

/**
 * The backup volume is mounted on the postgres user's home, which the image creates owned by
 * that user: Docker gives a fresh named volume the ownership of the directory it is mounted on,
 * so the job (uid 999) can write without starting as root. Kubernetes gets there by fsGroup.
 */
export const BACKUP_VOLUME_PATH = "/var/lib/postgresql";
export const BACKUP_DIR = `${BACKUP_VOLUME_PATH}/backups`;
const SCRIPT_PATH = "/etc/fundament/postgres-backup.sh";
const PGPASS_PATH = "/run/secrets/postgres-backup.pgpass";
const CA_PATH = "/etc/fundament/postgres-ca.crt";

/**
 * Scheduled logical backups of every service database (backup-script.ts), kept to a retention
 * count on a volume, with the last success recorded where the PostgreSQL exporter reads it
 * (fundament_backup_last_success_timestamp_seconds). Restore: scripts/postgres-restore.sh.
 */
export class PostgresBackup extends pulumi.ComponentResource {
  readonly job: DeployedWorkload;

  constructor(name: string, args: PostgresBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:database:PostgresBackup", name, {}, opts);
    const problems = backupScriptProblems({ backupDir: BACKUP_DIR, retention: args.retention });
    const schedule = cronProblem(args.schedule);
    if (schedule) problems.push(`schedule: ${schedule} (got ${JSON.stringify(args.schedule)})`);
    const image = imageReferenceProblem(args.image);
    if (image) problems.push(`image: ${image} (got ${JSON.stringify(args.image)})`);
    if (!Number.isInteger(args.volumeSizeGiB) || args.volumeSizeGiB < 1) {
      problems.push(`volumeSizeGiB: must be an integer of at least 1 (got ${args.volumeSizeGiB})`);
    }
    if (args.objectStorage !== undefined) {
      problems.push(
        "objectStorage: this job cannot upload (the PostgreSQL image has no S3 client); omit it and add a PostgresBackupUpload (backup-upload.ts) that mirrors the backup volume to the bucket",
      );
    }
    if (problems.length > 0) throw new Error(problems.map((p) => `${name}.${p}`).join("\n"));

    const login = args.postgres.backupLogin;
    this.job = args.runtime.schedule(
      {
        name,
        image: args.image,
        schedule: args.schedule,
        // sh directly: the image's entrypoint would try to initialise a server.
        command: ["sh", SCRIPT_PATH],
        zones: ["backend"],
        env: {
          PGHOST: args.postgres.workload.host,
          PGPORT: String(POSTGRES_PORT),
          PGUSER: login.user,
          PGDATABASE: "postgres",
          PGPASSFILE: PGPASS_PATH,
          PGCONNECT_TIMEOUT: "30",
          // pg_dump and psql reach the server over TLS only, and verify it is the platform's.
          PGSSLMODE: VERIFY_FULL,
          PGSSLROOTCERT: CA_PATH,
        },
        files: [
          { path: SCRIPT_PATH, content: renderPostgresBackupScript({ backupDir: BACKUP_DIR, retention: args.retention }), mode: 0o555 },
          { path: PGPASS_PATH, content: pgpassFor(login), secret: true, mode: PGPASS_MODE },
          caFile(CA_PATH, args.postgres.caCertPem),
        ],
        storage: [{ name: "backups", path: BACKUP_VOLUME_PATH, sizeGiB: args.volumeSizeGiB }],
        resources: { cpu: 0.5, memoryMiB: 256 },
        stopGracePeriodSeconds: 30,
        user: POSTGRES_IMAGE_USER,
        readOnlyRootFilesystem: true,
        dependsOn: [args.postgres.workload],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
