import { createHash } from "node:crypto";
import {
  ADMIN_USER,
  BROKER_VHOST,
  BrokerModel,
  DEAD_LETTER_EXCHANGE,
  deadLetterQueueName,
  PUBLISH_EXCHANGES,
  QueueSpec,
  queueDeliveryLimit,
  queueExchange,
} from "./broker-model";
import { exactNames, NOTHING, servicePermissions } from "./rabbitmq-permissions";

export const PASSWORD_HASHING_ALGORITHM = "rabbit_password_hashing_sha256";

export interface UserCredential {
  password: string;
  /** 4 random bytes, base64: RabbitMQ's salt size for internal users. */
  saltBase64: string;
}

export interface DefinitionsInput {
  model: BrokerModel;
  /** One credential per service in the model. */
  services: Record<string, UserCredential>;
  admin: UserCredential;
}

export interface DefinitionsUser {
  name: string;
  password_hash: string;
  hashing_algorithm: string;
  tags: string[];
  limits: Record<string, number>;
}

export interface DefinitionsPermission {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface DefinitionsTopicPermission {
  user: string;
  vhost: string;
  exchange: string;
  write: string;
  read: string;
}

export interface DefinitionsExchange {
  name: string;
  vhost: string;
  type: "topic" | "direct";
  durable: true;
  auto_delete: false;
  internal: false;
  arguments: Record<string, never>;
}

export interface DefinitionsQueue {
  name: string;
  vhost: string;
  durable: true;
  auto_delete: false;
  arguments: { "x-queue-type": "quorum" };
}

export interface DefinitionsBinding {
  source: string;
  vhost: string;
  destination: string;
  destination_type: "queue";
  routing_key: string;
  arguments: Record<string, never>;
}

export interface DeadLetterPolicyDefinition {
  "dead-letter-exchange": string;
  "dead-letter-routing-key": string;
  "dead-letter-strategy": "at-least-once";
  overflow: "reject-publish";
  "delivery-limit": number;
  "message-ttl"?: number;
  "max-length"?: number;
}

export interface DefinitionsPolicy {
  name: string;
  vhost: string;
  pattern: string;
  "apply-to": "queues";
  priority: number;
  definition: DeadLetterPolicyDefinition;
}

export interface Definitions {
  users: DefinitionsUser[];
  vhosts: { name: string }[];
  permissions: DefinitionsPermission[];
  topic_permissions: DefinitionsTopicPermission[];
  parameters: never[];
  global_parameters: never[];
  policies: DefinitionsPolicy[];
  queues: DefinitionsQueue[];
  exchanges: DefinitionsExchange[];
  bindings: DefinitionsBinding[];
}

/**
 * RabbitMQ's rabbit_password_hashing_sha256 format: base64(salt ++ sha256(salt ++ password)).
 * The file then holds no password a reader could reuse.
 */
export function rabbitPasswordHash(password: string, saltBase64: string): string {
  const salt = Buffer.from(saltBase64, "base64");
  if (salt.length !== 4) throw new Error(`password salt: must be 4 bytes of base64 (got ${salt.length} bytes)`);
  const digest = createHash("sha256").update(Buffer.concat([salt, Buffer.from(password, "utf8")])).digest();
  return Buffer.concat([salt, digest]).toString("base64");
}

function user(name: string, credential: UserCredential, tags: string[]): DefinitionsUser {
  if (credential.password.length === 0) throw new Error(`user ${name}: password must not be empty`);
  // Tags as a list, the form RabbitMQ exports since 3.9 (3.10 and 4.x both import it).
  return { name, password_hash: rabbitPasswordHash(credential.password, credential.saltBase64), hashing_algorithm: PASSWORD_HASHING_ALGORITHM, tags, limits: {} };
}

function exchange(name: string, type: "topic" | "direct"): DefinitionsExchange {
  return { name, vhost: BROKER_VHOST, type, durable: true, auto_delete: false, internal: false, arguments: {} };
}

function quorumQueue(name: string): DefinitionsQueue {
  // Only the queue type is a queue argument: everything tunable lives in the policy, which
  // RabbitMQ lets us change later without deleting and re-declaring the queue.
  return { name, vhost: BROKER_VHOST, durable: true, auto_delete: false, arguments: { "x-queue-type": "quorum" } };
}

function binding(source: string, destination: string, routingKey: string): DefinitionsBinding {
  return { source, vhost: BROKER_VHOST, destination, destination_type: "queue", routing_key: routingKey, arguments: {} };
}

/** The policy that dead-letters a queue's rejected, expired, overflowing and over-delivered messages into its dlq. */
export function deadLetterPolicy(queue: QueueSpec): DefinitionsPolicy {
  const definition: DeadLetterPolicyDefinition = {
    "dead-letter-exchange": DEAD_LETTER_EXCHANGE,
    // The queue's own name as routing key, so a message dead-letters into exactly this queue's dlq
    // even when several queues bind the same event.
    "dead-letter-routing-key": queue.name,
    // at-least-once keeps a message in the source queue until the dlq confirms it; RabbitMQ
    // requires reject-publish overflow for that (drop-head would dead-letter at-most-once).
    "dead-letter-strategy": "at-least-once",
    overflow: "reject-publish",
    "delivery-limit": queueDeliveryLimit(queue),
  };
  if (queue.messageTtlMs !== undefined) definition["message-ttl"] = queue.messageTtlMs;
  if (queue.maxLength !== undefined) definition["max-length"] = queue.maxLength;
  return { name: `dead-letter.${queue.name}`, vhost: BROKER_VHOST, pattern: exactNames([queue.name]), "apply-to": "queues", priority: 10, definition };
}

export function buildDefinitions(input: DefinitionsInput): Definitions {
  const { model } = input;
  const users: DefinitionsUser[] = [user(ADMIN_USER, input.admin, ["administrator"])];
  const permissions: DefinitionsPermission[] = [{ user: ADMIN_USER, vhost: BROKER_VHOST, configure: ".*", write: ".*", read: ".*" }];
  const topicPermissions: DefinitionsTopicPermission[] = [];
  for (const service of model.services) {
    const credential = input.services[service.name];
    if (!credential) throw new Error(`definitions: no credential for service ${JSON.stringify(service.name)}`);
    users.push(user(service.name, credential, []));
    const granted = servicePermissions(model, service.name);
    permissions.push({ user: service.name, vhost: BROKER_VHOST, configure: granted.configure, write: granted.write, read: granted.read });
    if (granted.deadLetterWrite !== NOTHING) {
      topicPermissions.push({ user: service.name, vhost: BROKER_VHOST, exchange: DEAD_LETTER_EXCHANGE, write: granted.deadLetterWrite, read: NOTHING });
    }
  }

  const queues: DefinitionsQueue[] = [];
  const bindings: DefinitionsBinding[] = [];
  for (const queue of model.queues) {
    queues.push(quorumQueue(queue.name), quorumQueue(deadLetterQueueName(queue.name)));
    for (const routingKey of queue.routingKeys) bindings.push(binding(queueExchange(queue), queue.name, routingKey));
    bindings.push(binding(DEAD_LETTER_EXCHANGE, deadLetterQueueName(queue.name), queue.name));
  }

  return {
    users,
    vhosts: [{ name: BROKER_VHOST }],
    permissions,
    topic_permissions: topicPermissions,
    parameters: [],
    global_parameters: [],
    policies: model.queues.map(deadLetterPolicy),
    queues,
    exchanges: [...PUBLISH_EXCHANGES.map((name) => exchange(name, name === "events" ? "topic" : "direct")), exchange(DEAD_LETTER_EXCHANGE, "topic")],
    bindings,
  };
}

/** definitions.json, loaded by RabbitMQ at boot through load_definitions. */
export function renderDefinitions(input: DefinitionsInput): string {
  return `${JSON.stringify(buildDefinitions(input), null, 2)}\n`;
}
