import type { BrokerModel, BrokerServiceSpec, PublishExchange, QueueSpec } from "../broker/broker-model";
import type { ServiceName } from "../config/stack-config";

/** What a service's own code needs from the broker, beside the queues the stack config adds. */
export interface ServiceBrokerResources {
  publishes: PublishExchange[];
  /** Queues the service's code consumes; they exist whenever the service is enabled. */
  queues: QueueSpec[];
}

/** A command queue of one service on the direct `commands` exchange, its routing key its own name. */
function commandQueue(service: ServiceName, name: string, deliveryLimit: number): QueueSpec {
  return { name, exchange: "commands", routingKeys: [name], consumers: [service], deliveryLimit };
}

/**
 * Per service, the exchanges it publishes to and the queues its code consumes. gpu-jobs sends its
 * launch, monitor and cancel commands to itself (any replica's workers take them), so it writes
 * to `commands` and reads its three queues; the names are those of
 * services/gpu-jobs/src/messages/gpu-job-messages.ts (GPU_JOB_QUEUES), checked by a test.
 */
export const SERVICE_BROKER_RESOURCES: Record<ServiceName, ServiceBrokerResources> = {
  users: { publishes: ["events"], queues: [] },
  config: { publishes: ["events"], queues: [] },
  "gpu-jobs": {
    publishes: ["events", "commands"],
    // A command is idempotent by job id and state, so a redelivery is harmless; after 5 the
    // message is dead-lettered and the service's reconciliation loop takes the job up again.
    queues: [commandQueue("gpu-jobs", "gpu-jobs.launch", 5), commandQueue("gpu-jobs", "gpu-jobs.monitor", 5), commandQueue("gpu-jobs", "gpu-jobs.cancel", 5)],
  },
};

/** The broker model of a stack: the enabled services' own queues, then the stack config's. */
export function brokerModelFor(services: readonly ServiceName[], configQueues: readonly QueueSpec[]): BrokerModel {
  const specs: BrokerServiceSpec[] = services.map((name) => ({ name, publishes: [...SERVICE_BROKER_RESOURCES[name].publishes] }));
  return { services: specs, queues: [...services.flatMap((name) => SERVICE_BROKER_RESOURCES[name].queues), ...configQueues] };
}
