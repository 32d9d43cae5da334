import * as pulumi from "@pulumi/pulumi";
import type { DeployedWorkload } from "../../runtime/workload";
import { scheduleServerBackup, ServerBackupArgs } from "./backup-job";
import type { Redis } from "../redis/redis";
import { renderRedisBackupScript } from "./redis-backup-script";
import { REDIS_PORT } from "../redis/redis-conf";
import { REDIS_IMAGE_USER } from "../redis/redis-workloads";
import { caFile } from "../../pki/tls-files";

export interface RedisBackupArgs extends ServerBackupArgs {
  redis: Redis;
}

/**
 * The image declares VOLUME /data owned by its redis user (999), so Docker gives a fresh named
 * volume mounted there that ownership and the job writes without starting as root; Kubernetes
 * gets there by fsGroup.
 */
export const REDIS_BACKUP_VOLUME_PATH = "/data";
const PASSWORD_PATH = "/run/secrets/redis-backup/password";
const CA_PATH = "/etc/fundament/redis-backup-ca.crt";

/**
 * Scheduled snapshots of Redis (redis-backup-script.ts): an RDB fetched over the network by the
 * backup ACL user, checked, kept to a retention count on a volume that BackupUpload mirrors to
 * the backups bucket under redis/. Restore: README, "Redis backups and restore".
 */
export class RedisBackup extends pulumi.ComponentResource {
  readonly job: DeployedWorkload;

  constructor(name: string, args: RedisBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:database:RedisBackup", name, {}, opts);
    this.job = scheduleServerBackup(
      name,
      args,
      {
        script: () => renderRedisBackupScript({ backupDir: `${REDIS_BACKUP_VOLUME_PATH}/backups`, retention: args.retention, passwordFile: PASSWORD_PATH, caFile: CA_PATH }),
        scriptPath: "/etc/fundament/redis-backup.sh",
        secretFile: { path: PASSWORD_PATH, content: args.redis.backupPassword },
        files: [caFile(CA_PATH, args.redis.caCertPem)],
        env: { REDIS_HOST: args.redis.workload.host, REDIS_PORT: String(REDIS_PORT) },
        volumePath: REDIS_BACKUP_VOLUME_PATH,
        user: REDIS_IMAGE_USER,
        resources: { cpu: 0.25, memoryMiB: 128 },
        dependsOn: [args.redis.workload],
      },
      this,
    );
    this.registerOutputs({});
  }
}
