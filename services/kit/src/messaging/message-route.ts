import { decodePayload, type MessageType } from "./message-type";

export interface DeliveryContext {
  messageId: string | undefined;
  routingKey: string;
  redelivered: boolean;
  /** Earlier deliveries of this message (quorum queues count them; 0 on the first). */
  deliveryCount: number;
  headers: Record<string, unknown>;
}

/** Resolve to acknowledge; throw (or reject) to dead-letter the message into `<queue>.dlq`. */
export type MessageHandler<T> = (payload: T, context: DeliveryContext) => Promise<void>;

export type RouteDecision = { ok: true; run: (context: DeliveryContext) => Promise<void> } | { ok: false; reason: string };

/** One message type a consumer reads and what it does with it; the payload type stays inside. */
export interface MessageRoute {
  readonly typeName: string;
  /** Parses and validates a body; never throws, so a bad message cannot stop a consumer. */
  decode(body: Buffer): RouteDecision;
}

export function route<T>(type: MessageType<T>, handle: MessageHandler<T>): MessageRoute {
  return {
    typeName: type.name,
    decode(body) {
      const decoded = decodePayload(type, body);
      return decoded.ok ? { ok: true, run: (context) => handle(decoded.payload, context) } : decoded;
    },
  };
}

/**
 * Picks the route for a delivery by its AMQP `type` property. A message without one is accepted
 * only by a single-route consumer (publishers outside the kit may not set it).
 */
export function selectRoute(routes: readonly MessageRoute[], deliveredType: string | undefined): MessageRoute | { reason: string } {
  const reads = routes.map((candidate) => candidate.typeName).join(", ");
  if (deliveredType === undefined) {
    return routes.length === 1 ? (routes[0] as MessageRoute) : { reason: `message has no type property (this consumer reads ${reads})` };
  }
  return routes.find((candidate) => candidate.typeName === deliveredType) ?? { reason: `unexpected message type ${JSON.stringify(deliveredType)} (this consumer reads ${reads})` };
}
