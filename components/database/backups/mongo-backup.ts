import * as pulumi from "@pulumi/pulumi";
import type { DeployedWorkload } from "../../runtime/workload";
import { scheduleServerBackup, ServerBackupArgs } from "./backup-job";
import type { Mongo } from "../mongo/mongo";
import { renderMongoBackupScript, renderMongodumpConfig } from "./mongo-backup-script";
import { MONGO_IMAGE_USER } from "../mongo/mongo-workloads";
import { MONGO_PORT } from "../mongo/mongod-conf";
import { caFile } from "../../pki/tls-files";

export interface MongoBackupArgs extends ServerBackupArgs {
  mongo: Mongo;
}

/**
 * The image creates /data/db owned by its mongodb user (999); Docker gives a fresh named volume
 * mounted there that ownership, so the job writes without starting as root (Kubernetes: fsGroup).
 * In this job it holds backups, not a database.
 */
export const MONGO_BACKUP_VOLUME_PATH = "/data/db";
const CONFIG_PATH = "/run/secrets/mongo-backup/mongodump.yaml";
const CA_PATH = "/etc/fundament/mongo-backup-ca.crt";

/**
 * Scheduled `mongodump --archive --gzip --oplog` of the whole replica set (mongo-backup-script.ts),
 * kept to a retention count on a volume that BackupUpload mirrors to the backups bucket under mongo/.
 */
export class MongoBackup extends pulumi.ComponentResource {
  readonly job: DeployedWorkload;

  constructor(name: string, args: MongoBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:database:MongoBackup", name, {}, opts);
    const config = pulumi.secret(
      pulumi.all([args.mongo.workload.host, args.mongo.backupPassword]).apply(([host, password]) => renderMongodumpConfig({ host, port: MONGO_PORT, password })),
    );
    this.job = scheduleServerBackup(
      name,
      args,
      {
        script: () => renderMongoBackupScript({ backupDir: `${MONGO_BACKUP_VOLUME_PATH}/backups`, retention: args.retention, configFile: CONFIG_PATH, caFile: CA_PATH }),
        scriptPath: "/etc/fundament/mongo-backup.sh",
        secretFile: { path: CONFIG_PATH, content: config },
        files: [caFile(CA_PATH, args.mongo.caCertPem)],
        volumePath: MONGO_BACKUP_VOLUME_PATH,
        user: MONGO_IMAGE_USER,
        resources: { cpu: 0.5, memoryMiB: 256 },
        // The init job creates the backup user.
        dependsOn: [args.mongo.workload, args.mongo.initJob],
      },
      this,
    );
    this.registerOutputs({});
  }
}
