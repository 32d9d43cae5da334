import { defineMessage, type MessageType, type OutboxTable } from "@fundament/kit/messaging";
import type { JobState } from "../jobs/job-types";

const UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
const STATES: JobState[] = ["queued", "placing", "running", "cancelling", "succeeded", "failed", "cancelled"];

/** migrations/001 and 002: relayed by the kit's OutboxRelay, woken by JobStore at each commit that wrote rows. */
export const GPU_OUTBOX: OutboxTable = { name: "gpu_outbox", channel: "gpu_outbox" };

/**
 * The service's own command queues on the `commands` exchange (a direct exchange: the routing key
 * is the queue's key). components/services/service-broker.ts declares the same names for the
 * broker's definitions; a test checks the two agree.
 */
export const GPU_JOB_QUEUES = { launch: "gpu-jobs.launch", monitor: "gpu-jobs.monitor", cancel: "gpu-jobs.cancel" } as const;
export type GpuJobCommand = keyof typeof GPU_JOB_QUEUES;

export interface JobCommand {
  jobId: string;
}

function command(kind: GpuJobCommand): MessageType<JobCommand> {
  return defineMessage<JobCommand>({
    name: `gpu-job.${kind}`,
    exchange: "commands",
    routingKey: GPU_JOB_QUEUES[kind],
    schema: { type: "object", additionalProperties: false, required: ["jobId"], properties: { jobId: { type: "string", pattern: UUID } } },
  });
}

/** Place the job (or reconcile its pending attempt); a no-op unless it is queued or placing. */
export const launchJob = command("launch");
/** Look at the running job's instance once: cost, deadline, budget, exit; a no-op unless running. */
export const monitorJob = command("monitor");
/** Terminate whatever the job holds; a no-op unless it is cancelling. */
export const cancelJob = command("cancel");

export const COMMAND_TYPES: Record<GpuJobCommand, MessageType<JobCommand>> = { launch: launchJob, monitor: monitorJob, cancel: cancelJob };

export interface JobStateChanged {
  jobId: string;
  project: string;
  state: JobState;
  reason?: string;
  provider?: string;
  costUsd?: number;
  at: string;
}

export const jobStateChanged: MessageType<JobStateChanged> = defineMessage<JobStateChanged>({
  name: "gpu-job.state-changed",
  exchange: "events",
  routingKey: "gpu-job.state-changed",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["jobId", "project", "state", "at"],
    properties: {
      jobId: { type: "string", pattern: UUID },
      project: { type: "string", minLength: 1 },
      state: { type: "string", enum: STATES },
      reason: { type: "string" },
      provider: { type: "string" },
      costUsd: { type: "number", minimum: 0 },
      at: { type: "string", minLength: 20 },
    },
  },
});

export interface GpuAudit {
  actor: string;
  action: string;
  jobId?: string;
  project?: string;
  provider?: string;
  instanceId?: string;
  pricePerHour?: number;
  costUsd?: number;
  detail?: Record<string, unknown>;
  at: string;
}

export const gpuAudit: MessageType<GpuAudit> = defineMessage<GpuAudit>({
  name: "gpu-job.audit",
  exchange: "events",
  routingKey: "gpu-job.audit",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["actor", "action", "at"],
    properties: {
      actor: { type: "string", minLength: 1 },
      action: { type: "string", minLength: 1 },
      jobId: { type: "string", pattern: UUID },
      project: { type: "string" },
      provider: { type: "string" },
      instanceId: { type: "string" },
      pricePerHour: { type: "number" },
      costUsd: { type: "number" },
      detail: { type: "object" },
      at: { type: "string", minLength: 20 },
    },
  },
});

/** Every type a gpu_outbox row may name. */
export const GPU_OUTBOX_TYPES: readonly MessageType<unknown>[] = [jobStateChanged, gpuAudit, launchJob, monitorJob, cancelJob] as readonly MessageType<unknown>[];
