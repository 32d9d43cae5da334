export { Messaging, type Consumer, type PublishOptions } from "./messaging-client";
export { defineMessage, MessageValidationError, type MessageExchange, type MessageType, type MessageTypeSpec } from "./message-type";
export { PublishError } from "./confirm-publisher";
export type { AmqpEndpoint, MessagingOptions, ReconnectOptions } from "./messaging-options";
export type { ConsumeOptions, DeliveryContext, MessageHandler } from "./queue-consumer";
export { DEAD_LETTER_EXCHANGE, DEAD_LETTER_HEADERS } from "./dead-letter-headers";
