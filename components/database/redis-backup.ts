import * as pulumi from "@pulumi/pulumi";
import { cronProblem } from "../config/cron";
import type { DeployedWorkload, Runtime } from "../runtime/workload";
import type { Redis } from "./redis";
import { renderRedisBackupScript } from "./redis-backup-script";
import { REDIS_PORT } from "./redis-conf";
import { pinnedImageProblem } from "./redis-mongo-pinned-image";
import { REDIS_IMAGE_USER } from "./redis-workloads";

export interface RedisBackupArgs {
  runtime: Runtime;
  /** The Redis image the server runs: its redis-cli and redis-check-rdb match the server. */
  image: string;
  redis: Redis;
  /** Five-field cron expression, UTC. */
  schedule: string;
  retention: number;
  volumeSizeGiB: number;
}

/**
 * The image declares VOLUME /data owned by its redis user (999), so Docker gives a fresh named
 * volume mounted there that ownership and the job writes without starting as root; Kubernetes
 * gets there by fsGroup.
 */
export const REDIS_BACKUP_VOLUME_PATH = "/data";
const SCRIPT_PATH = "/etc/fundament/redis-backup.sh";
const PASSWORD_PATH = "/run/secrets/redis-backup/password";

/**
 * Scheduled snapshots of Redis (redis-backup-script.ts): an RDB fetched over the network by the
 * backup ACL user, checked, kept to a retention count on a volume that BackupUpload mirrors to
 * the backups bucket under redis/. Restore: README, "Restoring Redis".
 */
export class RedisBackup extends pulumi.ComponentResource {
  readonly job: DeployedWorkload;

  constructor(name: string, args: RedisBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:database:RedisBackup", name, {}, opts);
    const input = { backupDir: `${REDIS_BACKUP_VOLUME_PATH}/backups`, retention: args.retention, passwordFile: PASSWORD_PATH };
    const problems: string[] = [];
    const schedule = cronProblem(args.schedule);
    if (schedule) problems.push(`schedule: ${schedule} (got ${JSON.stringify(args.schedule)})`);
    const image = pinnedImageProblem(args.image);
    if (image) problems.push(`image: ${image}`);
    if (!Number.isInteger(args.volumeSizeGiB) || args.volumeSizeGiB < 1) problems.push(`volumeSizeGiB: must be an integer of at least 1 (got ${args.volumeSizeGiB})`);
    let script = "";
    try {
      script = renderRedisBackupScript(input);
    } catch (error) {
      problems.push(...(error as Error).message.split("\n"));
    }
    if (problems.length > 0) throw new Error(problems.map((p) => `${name}.${p}`).join("\n"));

    this.job = args.runtime.schedule(
      {
        name,
        role: "job",
        image: args.image,
        schedule: args.schedule,
        // sh directly: the image's entrypoint is for starting a server.
        command: ["sh", SCRIPT_PATH],
        zones: ["backend"],
        env: { REDIS_HOST: args.redis.workload.host, REDIS_PORT: String(REDIS_PORT) },
        files: [
          { path: SCRIPT_PATH, content: script, mode: 0o555 },
          { path: PASSWORD_PATH, content: args.redis.backupPassword, secret: true, mode: 0o400 },
        ],
        storage: [{ name: "backups", path: REDIS_BACKUP_VOLUME_PATH, sizeGiB: args.volumeSizeGiB }],
        resources: { cpu: 0.25, memoryMiB: 128 },
        stopGracePeriodSeconds: 30,
        user: REDIS_IMAGE_USER,
        readOnlyRootFilesystem: true,
        dependsOn: [args.redis.workload],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}
