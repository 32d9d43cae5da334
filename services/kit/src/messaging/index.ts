export { Messaging, type Consumer, type PublishOptions } from "./messaging-client";
export { defineMessage, MessageValidationError, type MessageExchange, type MessageType, type MessageTypeSpec } from "./message-type";
export { PublishError } from "./confirm-publisher";
export type { AmqpEndpoint, MessagingOptions, ReconnectOptions } from "./messaging-options";
export { route, type DeliveryContext, type MessageHandler, type MessageRoute } from "./message-route";
export type { ConsumeOptions } from "./queue-consumer";
export { DEAD_LETTER_EXCHANGE, DEAD_LETTER_HEADERS } from "./dead-letter-headers";
export { enqueueMessage, OutboxRelay, type OutboxColumns, type OutboxPublisher, type OutboxRelayOptions, type OutboxTable } from "./outbox-relay";
