import { defineMessage, type Messaging, PublishError } from "@fundament/kit/messaging";
import type { ChangePublisher } from "./outbox-relay";
import { CHANGE_ROUTING_KEY } from "./outbox-relay";
import type { ChangeEvent } from "./version-store";

/** `{namespace, environment, version}` on the `events` exchange; consumers read the version over HTTP. */
export const ConfigChanged = defineMessage<ChangeEvent>({
  name: "config.changed",
  exchange: "events",
  routingKey: CHANGE_ROUTING_KEY,
  schema: {
    type: "object",
    properties: {
      namespace: { type: "string", minLength: 1 },
      environment: { type: "string", minLength: 1 },
      version: { type: "integer", minimum: 1 },
    },
    required: ["namespace", "environment", "version"],
    additionalProperties: false,
  },
});

/**
 * The kit publishes `mandatory`, so an event no queue is bound for comes back as a PublishError.
 * Nobody subscribing is not a failure of this service: keeping such events in the outbox would
 * retry them forever. The kit gives no structured flag for "returned", hence the message test.
 */
function unroutable(error: unknown): boolean {
  return error instanceof PublishError && error.unroutable;
}

export function brokerChangePublisher(messaging: Messaging): ChangePublisher {
  return {
    async publish(event, messageId) {
      try {
        await messaging.publish(ConfigChanged, event, { messageId });
      } catch (error) {
        if (!unroutable(error)) throw error;
      }
    },
  };
}
