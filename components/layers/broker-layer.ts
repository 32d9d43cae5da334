import { RabbitMQ } from "../broker";
import { brokerModelFor } from "../services/service-broker";
import type { PlatformPki } from "../pki";
import { Runtime } from "../runtime/workload";
import { childOf, consumersOf, LayerScope, sizeOf } from "./layer-scope";

/** RabbitMQ, when a service publishes or consumes events. */
export function wireBroker(scope: LayerScope, below: { runtime: Runtime; pki: PlatformPki }): RabbitMQ | undefined {
  const { config } = scope;
  const consumers = consumersOf(config, "rabbitmq");
  if (consumers.length === 0) return undefined;
  const model = brokerModelFor(consumers, config.rabbitmq.queues);
  return new RabbitMQ("rabbitmq", { runtime: below.runtime, image: config.rabbitmq.image, resources: sizeOf(config.rabbitmq), storageGiB: config.rabbitmq.storageGiB, model, managementHost: `rabbitmq.${config.domain}`, pki: below.pki }, childOf(scope));
}
