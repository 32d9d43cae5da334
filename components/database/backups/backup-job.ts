import * as pulumi from "@pulumi/pulumi";
import { cronProblem } from "../../config/cron";
import type { DeployedWorkload, Runtime, ScheduledJob, WorkloadFile } from "../../runtime/workload";
import { pinnedImageProblem } from "../redis-mongo-pinned-image";

/** What the Redis and MongoDB backup jobs have in common; each supplies its script and secret file. */
export interface ServerBackupArgs {
  runtime: Runtime;
  /** The server's own image: its client tools match the server. */
  image: string;
  /** Five-field cron expression, UTC. */
  schedule: string;
  retention: number;
  volumeSizeGiB: number;
}

export interface ServerBackupJob {
  /** Renders the job's script; throws one line per problem. */
  script: () => string;
  scriptPath: string;
  /** The one secret file the script reads (a password, or a client config holding one). */
  secretFile: { path: string; content: pulumi.Input<string> };
  /** Public files the script also reads (the CA it verifies the server against). */
  files?: WorkloadFile[];
  env?: Record<string, pulumi.Input<string>>;
  /** A directory the image creates owned by `user`, so a fresh volume mounted there is writable. */
  volumePath: string;
  user: { uid: number; gid: number };
  resources: { cpu: number; memoryMiB: number };
  dependsOn: DeployedWorkload[];
}

/**
 * Validates (every problem, one line each, prefixed with `name`) and schedules a backup job that
 * runs `sh <script>` in the server's image, in the backend zone, writing only to its volume
 * `backups` (which BackupUpload mirrors to the bucket).
 */
export function scheduleServerBackup(name: string, args: ServerBackupArgs, job: ServerBackupJob, parent: pulumi.Resource): DeployedWorkload {
  const problems: string[] = [];
  const schedule = cronProblem(args.schedule);
  if (schedule) problems.push(`schedule: ${schedule} (got ${JSON.stringify(args.schedule)})`);
  const image = pinnedImageProblem(args.image);
  if (image) problems.push(`image: ${image}`);
  if (!Number.isInteger(args.volumeSizeGiB) || args.volumeSizeGiB < 1) problems.push(`volumeSizeGiB: must be an integer of at least 1 (got ${args.volumeSizeGiB})`);
  let script = "";
  try {
    script = job.script();
  } catch (error) {
    problems.push(...(error as Error).message.split("\n"));
  }
  if (problems.length > 0) throw new Error(problems.map((p) => `${name}.${p}`).join("\n"));

  const scheduled: ScheduledJob = {
    name,
    role: "job",
    image: args.image,
    schedule: args.schedule,
    // sh directly: the image's entrypoint is for starting the server.
    command: ["sh", job.scriptPath],
    zones: ["backend"],
    ...(job.env ? { env: job.env } : {}),
    files: [
      { path: job.scriptPath, content: script, mode: 0o555 },
      { path: job.secretFile.path, content: job.secretFile.content, secret: true, mode: 0o400 },
      ...(job.files ?? []),
    ],
    storage: [{ name: "backups", path: job.volumePath, sizeGiB: args.volumeSizeGiB }],
    resources: job.resources,
    stopGracePeriodSeconds: 30,
    user: job.user,
    readOnlyRootFilesystem: true,
    dependsOn: job.dependsOn,
  };
  return args.runtime.schedule(scheduled, { parent });
}
