import * as pulumi from "@pulumi/pulumi";
import type { DeployedWorkload, Runtime, Zone } from "../../runtime/workload";
import { renderBackupUploadScript } from "./backup-upload-script";

export interface PostgresBackupUploadArgs {
  runtime: Runtime;
  /** The MinIO client image. */
  image: string;
  /** The backup job whose volume `backups` holds the backups (PostgresBackup, RedisBackup, MongoBackup). */
  backupJob: string;
  /** Object storage URL (http://minio:9000 or https://s3.<region>.amazonaws.com). */
  endpoint: pulumi.Input<string>;
  bucket: pulumi.Input<string>;
  accessKey: pulumi.Input<string>;
  secretKey: pulumi.Input<string>;
  /** Five-field cron expression, UTC. */
  schedule: string;
  /** backend to reach MinIO; frontend for S3, the only zone with a route out. */
  zone: Zone;
  /** What must exist first: the bucket and the writer's key (ObjectStorage.ready). */
  ready: pulumi.Resource[];
}

const MOUNT = "/backup-volume";
const SECRETS = "/run/secrets/backup-upload";

export interface BackupUploadArgs extends PostgresBackupUploadArgs {
  /** Object prefix in the bucket: the server the backups are of ("redis", "mongo"). */
  prefix: string;
}

/**
 * Copies finished backups of any backup job to the `backups` bucket under `prefix` on a schedule
 * (see backup-upload-script.ts). Every backup job's files belong to uid 999, the data user of
 * the PostgreSQL, Redis and MongoDB images alike; reading them needs no more.
 */
export class BackupUpload extends pulumi.ComponentResource {
  readonly job: DeployedWorkload;

  constructor(name: string, args: BackupUploadArgs, opts?: pulumi.ComponentResourceOptions, type = "fundament:database:BackupUpload") {
    super(type, name, {}, opts);
    const script = renderBackupUploadScript({
      sourceDir: `${MOUNT}/backups`,
      accessKeyFile: `${SECRETS}/access-key`,
      secretKeyFile: `${SECRETS}/secret-key`,
      prefix: args.prefix,
    });
    this.job = args.runtime.schedule(
      {
        name,
        role: "job",
        image: args.image,
        command: ["/bin/sh", "/etc/fundament/backup-upload.sh"],
        zones: [args.zone],
        env: { S3_ENDPOINT: args.endpoint, S3_BUCKET: args.bucket, MC_CONFIG_DIR: "/tmp/.mc", HOME: "/tmp" },
        files: [
          { path: "/etc/fundament/backup-upload.sh", content: script, mode: 0o555 },
          { path: `${SECRETS}/access-key`, content: pulumi.secret(args.accessKey), secret: true, mode: 0o400 },
          { path: `${SECRETS}/secret-key`, content: pulumi.secret(args.secretKey), secret: true, mode: 0o400 },
        ],
        schedule: args.schedule,
        storage: [{ name: "backups", path: MOUNT, sizeGiB: 1, from: args.backupJob }],
        resources: { cpu: 0.25, memoryMiB: 128 },
        stopGracePeriodSeconds: 30,
        user: { uid: 999, gid: 999 },
        readOnlyRootFilesystem: true,
      },
      { parent: this, dependsOn: args.ready },
    );
    this.registerOutputs({});
  }
}

/** The PostgreSQL backups' upload, under postgres/ (its own type token, as deployed stacks know it). */
export class PostgresBackupUpload extends BackupUpload {
  constructor(name: string, args: PostgresBackupUploadArgs, opts?: pulumi.ComponentResourceOptions) {
    super(name, { ...args, prefix: "postgres" }, opts, "fundament:database:PostgresBackupUpload");
  }
}
