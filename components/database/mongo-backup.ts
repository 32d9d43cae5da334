import * as pulumi from "@pulumi/pulumi";
import { cronProblem } from "../config/cron";
import type { DeployedWorkload, Runtime } from "../runtime/workload";
import type { Mongo } from "./mongo";
import { renderMongoBackupScript, renderMongodumpConfig } from "./mongo-backup-script";
import { MONGO_IMAGE_USER } from "./mongo-workloads";
import { MONGO_PORT } from "./mongod-conf";
import { pinnedImageProblem } from "./redis-mongo-pinned-image";

export interface MongoBackupArgs {
  runtime: Runtime;
  /** The MongoDB image the server runs: its mongodump is the tools release shipped with it. */
  image: string;
  mongo: Mongo;
  /** Five-field cron expression, UTC. */
  schedule: string;
  retention: number;
  volumeSizeGiB: number;
}

/**
 * The image creates /data/db owned by its mongodb user (999); Docker gives a fresh named volume
 * mounted there that ownership, so the job writes without starting as root (Kubernetes: fsGroup).
 * In this job it holds backups, not a database.
 */
export const MONGO_BACKUP_VOLUME_PATH = "/data/db";
const SCRIPT_PATH = "/etc/fundament/mongo-backup.sh";
const CONFIG_PATH = "/run/secrets/mongo-backup/mongodump.yaml";

/**
 * Scheduled `mongodump --archive --gzip --oplog` of the whole replica set (mongo-backup-script.ts),
 * kept to a retention count on a volume that BackupUpload mirrors to the backups bucket under mongo/.
 */
export class MongoBackup extends pulumi.ComponentResource {
  readonly job: DeployedWorkload;

  constructor(name: string, args: MongoBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:database:MongoBackup", name, {}, opts);
    const problems: string[] = [];
    const schedule = cronProblem(args.schedule);
    if (schedule) problems.push(`schedule: ${schedule} (got ${JSON.stringify(args.schedule)})`);
    const image = pinnedImageProblem(args.image);
    if (image) problems.push(`image: ${image}`);
    if (!Number.isInteger(args.volumeSizeGiB) || args.volumeSizeGiB < 1) problems.push(`volumeSizeGiB: must be an integer of at least 1 (got ${args.volumeSizeGiB})`);
    let script = "";
    try {
      script = renderMongoBackupScript({ backupDir: `${MONGO_BACKUP_VOLUME_PATH}/backups`, retention: args.retention, configFile: CONFIG_PATH });
    } catch (error) {
      problems.push(...(error as Error).message.split("\n"));
    }
    if (problems.length > 0) throw new Error(problems.map((p) => `${name}.${p}`).join("\n"));

    const config = pulumi.secret(
      pulumi.all([args.mongo.workload.host, args.mongo.backupPassword]).apply(([host, password]) => renderMongodumpConfig({ host, port: MONGO_PORT, password })),
    );
    this.job = args.runtime.schedule(
      {
        name,
        role: "job",
        image: args.image,
        schedule: args.schedule,
        // sh directly: the image's entrypoint is for starting mongod.
        command: ["sh", SCRIPT_PATH],
        zones: ["backend"],
        files: [
          { path: SCRIPT_PATH, content: script, mode: 0o555 },
          { path: CONFIG_PATH, content: config, secret: true, mode: 0o400 },
        ],
        storage: [{ name: "backups", path: MONGO_BACKUP_VOLUME_PATH, sizeGiB: args.volumeSizeGiB }],
        resources: { cpu: 0.5, memoryMiB: 256 },
        stopGracePeriodSeconds: 30,
        user: MONGO_IMAGE_USER,
        readOnlyRootFilesystem: true,
        // The init job creates the backup user.
        dependsOn: [args.mongo.workload, args.mongo.initJob],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
