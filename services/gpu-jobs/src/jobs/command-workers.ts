import type { Logger } from "@fundament/kit";
import type { Consumer, Messaging } from "@fundament/kit/messaging";
import { COMMAND_TYPES, GPU_JOB_QUEUES, type GpuJobCommand } from "../messages/gpu-job-messages";
import type { JobRunner } from "./job-runner";

/** What the workers need from the broker link. */
export type CommandConsumer = Pick<Messaging, "consume">;

/**
 * Consumes the launch, monitor and cancel queues and runs the runner's step for each command.
 * Every step claims the job's lease and checks its state first, so a redelivered or duplicate
 * command (a replica killed before its ack, the loop re-sending for a job still waiting) changes
 * nothing: it finds the job leased or already past that state and is acknowledged. A step that
 * throws is dead-lettered into `<queue>.dlq`; the job itself is picked up again by the work loop.
 */
export async function startCommandWorkers(messaging: CommandConsumer, runner: JobRunner, logger: Logger): Promise<Consumer[]> {
  const steps: Record<GpuJobCommand, (jobId: string) => Promise<void>> = {
    launch: (jobId) => runner.place(jobId),
    monitor: (jobId) => runner.monitor(jobId),
    cancel: (jobId) => runner.cancel(jobId),
  };
  const consumers: Consumer[] = [];
  try {
    for (const kind of Object.keys(GPU_JOB_QUEUES) as GpuJobCommand[]) {
      consumers.push(
        await messaging.consume(GPU_JOB_QUEUES[kind], COMMAND_TYPES[kind], async ({ jobId }, delivery) => {
          if (delivery.redelivered) logger.info({ jobId, command: kind, deliveryCount: delivery.deliveryCount }, "command redelivered; the job's lease and state decide whether it still applies");
          await steps[kind](jobId);
        }),
      );
    }
  } catch (error) {
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    throw error;
  }
  return consumers;
}
