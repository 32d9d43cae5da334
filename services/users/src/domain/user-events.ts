import { defineMessage, type MessageType } from "@fundament/kit/messaging";

const UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

export interface UserRegistered {
  userId: string;
  email: string;
  roles: string[];
  registeredAt: string;
}

export interface UserDisabled {
  userId: string;
  disabledBy: string;
  disabledAt: string;
}

export const userRegistered: MessageType<UserRegistered> = defineMessage<UserRegistered>({
  name: "user.registered",
  exchange: "events",
  routingKey: "user.registered",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["userId", "email", "roles", "registeredAt"],
    properties: {
      userId: { type: "string", pattern: UUID },
      email: { type: "string", minLength: 3, maxLength: 254 },
      roles: { type: "array", items: { type: "string" } },
      registeredAt: { type: "string", minLength: 20 },
    },
  },
});

export const userDisabled: MessageType<UserDisabled> = defineMessage<UserDisabled>({
  name: "user.disabled",
  exchange: "events",
  routingKey: "user.disabled",
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["userId", "disabledBy", "disabledAt"],
    properties: {
      userId: { type: "string", pattern: UUID },
      disabledBy: { type: "string", pattern: UUID },
      disabledAt: { type: "string", minLength: 20 },
    },
  },
});

/** The types the outbox relay may send, by the name stored with each row. */
export const USER_EVENT_TYPES: ReadonlyMap<string, MessageType<unknown>> = new Map<string, MessageType<unknown>>([
  [userRegistered.name, userRegistered as MessageType<unknown>],
  [userDisabled.name, userDisabled as MessageType<unknown>],
]);
