import type { ConsumeMessage } from "amqplib";

/** The dead-letter exchange of the broker layer (components/broker); `<queue>.dlq` binds to it with key `<queue>`. */
export const DEAD_LETTER_EXCHANGE = "dlx";

/** Headers a consumer adds when it dead-letters a message it could not read. */
export const DEAD_LETTER_HEADERS = {
  reason: "x-fundament-dead-letter-reason",
  queue: "x-fundament-queue",
  originalExchange: "x-fundament-original-exchange",
  originalRoutingKey: "x-fundament-original-routing-key",
} as const;

/** The broker's dead-letter routing key for a queue (its policy's dead-letter-routing-key). */
export function deadLetterRoutingKey(queue: string): string {
  return queue;
}

/** The original message's headers plus why and where it was refused. */
export function deadLetterHeaders(message: ConsumeMessage, queue: string, reason: string): Record<string, unknown> {
  return {
    ...(message.properties.headers ?? {}),
    [DEAD_LETTER_HEADERS.reason]: reason,
    [DEAD_LETTER_HEADERS.queue]: queue,
    [DEAD_LETTER_HEADERS.originalExchange]: message.fields.exchange,
    [DEAD_LETTER_HEADERS.originalRoutingKey]: message.fields.routingKey,
  };
}
