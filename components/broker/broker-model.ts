/** Exchanges a service may publish to; `dlx` is written only by the broker and by consumers routing invalid messages. */
export type PublishExchange = "events" | "commands";
export const PUBLISH_EXCHANGES: readonly PublishExchange[] = ["events", "commands"];
export const DEAD_LETTER_EXCHANGE = "dlx";
export const BROKER_VHOST = "fundament";
/** The management UI's user; a service cannot take this name. */
export const ADMIN_USER = "admin";
/** Redeliveries before a quorum queue dead-letters a message when the model does not say. */
export const DEFAULT_DELIVERY_LIMIT = 5;

export interface QueueSpec {
  name: string;
  routingKeys: string[];
  exchange?: PublishExchange;
  deliveryLimit?: number;
  messageTtlMs?: number;
  maxLength?: number;
  /** Services that read it. */
  consumers: string[];
}

export interface BrokerServiceSpec {
  name: string;
  publishes: PublishExchange[];
}

export interface BrokerModel {
  queues: QueueSpec[];
  services: BrokerServiceSpec[];
}

const RESERVED_RESOURCE_NAMES: readonly string[] = [...PUBLISH_EXCHANGES, DEAD_LETTER_EXCHANGE];
export const QUEUE_NAME_PATTERN = /^[a-z][a-z0-9.-]*$/;
export const SERVICE_NAME_PATTERN = /^[a-z][a-z0-9-]*$/;
/** Topic binding words: lowercase words, `*` (one word) or `#` (zero or more words). */
const TOPIC_KEY_PATTERN = /^(?:[a-z0-9_-]+|\*|#)(?:\.(?:[a-z0-9_-]+|\*|#))*$/;
const DIRECT_KEY_PATTERN = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
/** AMQP short strings are 255 bytes; the `.dlq` suffix must still fit. */
const MAX_QUEUE_NAME_LENGTH = 200;
const MAX_DELIVERY_LIMIT = 1000;
/** RabbitMQ stores message-ttl as a 32-bit unsigned millisecond count. */
const MAX_MESSAGE_TTL_MS = 4_294_967_295;

export function deadLetterQueueName(queue: string): string {
  return `${queue}.dlq`;
}

export function queueExchange(queue: QueueSpec): PublishExchange {
  return queue.exchange ?? "events";
}

export function queueDeliveryLimit(queue: QueueSpec): number {
  return queue.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
}

/** Queues a service consumes from, in model order. */
export function queuesConsumedBy(model: BrokerModel, service: string): QueueSpec[] {
  return model.queues.filter((queue) => queue.consumers.includes(service));
}

type Problems = string[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], key: string, problems: Problems): void {
  for (const name of Object.keys(value)) {
    if (!allowed.includes(name)) problems.push(`${key}.${name}: unknown key (allowed: ${allowed.join(", ")})`);
  }
}

function checkInteger(value: unknown, key: string, min: number, max: number, problems: Problems): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    problems.push(`${key}: must be an integer (got ${show(value)})`);
  } else if (value < min || value > max) {
    problems.push(`${key}: must be between ${min} and ${max} (got ${value})`);
  }
}

function checkStringList(value: unknown, key: string, problems: Problems): string[] | undefined {
  if (!Array.isArray(value)) {
    problems.push(`${key}: must be a list of strings (got ${show(value)})`);
    return undefined;
  }
  const strings: string[] = [];
  value.forEach((item, index) => {
    if (typeof item === "string") strings.push(item);
    else problems.push(`${key}[${index}]: must be a string (got ${show(item)})`);
  });
  return strings;
}

function checkDuplicates(names: string[], key: (index: number) => string, what: string, problems: Problems): void {
  const seen = new Set<string>();
  names.forEach((name, index) => {
    if (seen.has(name)) problems.push(`${key(index)}: duplicate ${what} ${show(name)}`);
    seen.add(name);
  });
}

function validateService(service: unknown, key: string, problems: Problems): string | undefined {
  if (!isRecord(service)) {
    problems.push(`${key}: must be an object with name and publishes (got ${show(service)})`);
    return undefined;
  }
  checkKeys(service, ["name", "publishes"], key, problems);
  let name: string | undefined;
  if (typeof service.name !== "string" || !SERVICE_NAME_PATTERN.test(service.name)) {
    problems.push(`${key}.name: must match ${SERVICE_NAME_PATTERN.source} (got ${show(service.name)})`);
  } else if (service.name === ADMIN_USER) {
    problems.push(`${key}.name: ${show(ADMIN_USER)} is reserved for the management UI user`);
  } else {
    name = service.name;
  }
  const publishes = checkStringList(service.publishes, `${key}.publishes`, problems);
  publishes?.forEach((exchange, index) => {
    if (!(PUBLISH_EXCHANGES as readonly string[]).includes(exchange)) {
      problems.push(`${key}.publishes[${index}]: must be one of ${PUBLISH_EXCHANGES.join(", ")} (got ${show(exchange)})`);
    }
  });
  if (publishes) checkDuplicates(publishes, (index) => `${key}.publishes[${index}]`, "exchange", problems);
  return name;
}

function validateQueue(queue: unknown, key: string, services: ReadonlySet<string>, problems: Problems): string | undefined {
  if (!isRecord(queue)) {
    problems.push(`${key}: must be an object with name, routingKeys and consumers (got ${show(queue)})`);
    return undefined;
  }
  checkKeys(queue, ["name", "routingKeys", "exchange", "deliveryLimit", "messageTtlMs", "maxLength", "consumers"], key, problems);
  let name: string | undefined;
  if (typeof queue.name !== "string" || !QUEUE_NAME_PATTERN.test(queue.name)) {
    problems.push(`${key}.name: must match ${QUEUE_NAME_PATTERN.source} (got ${show(queue.name)})`);
  } else if (queue.name.length > MAX_QUEUE_NAME_LENGTH) {
    problems.push(`${key}.name: must be at most ${MAX_QUEUE_NAME_LENGTH} characters (got ${queue.name.length})`);
  } else if (RESERVED_RESOURCE_NAMES.includes(queue.name)) {
    // Permissions are regexes over names without a kind: a queue named like an exchange would share its grants.
    problems.push(`${key}.name: ${show(queue.name)} is the name of an exchange; permissions could not tell them apart`);
  } else if (queue.name.startsWith("amq.")) {
    problems.push(`${key}.name: the amq. prefix is reserved by RabbitMQ (got ${show(queue.name)})`);
  } else if (queue.name.endsWith(".dlq")) {
    problems.push(`${key}.name: the .dlq suffix is reserved for dead-letter queues (got ${show(queue.name)})`);
  } else {
    name = queue.name;
  }
  const exchange = queue.exchange ?? "events";
  if (exchange !== "events" && exchange !== "commands") {
    problems.push(`${key}.exchange: must be one of ${PUBLISH_EXCHANGES.join(", ")} (got ${show(queue.exchange)})`);
  }
  const routingKeys = checkStringList(queue.routingKeys, `${key}.routingKeys`, problems);
  if (routingKeys && routingKeys.length === 0) problems.push(`${key}.routingKeys: must name at least one routing key`);
  routingKeys?.forEach((routingKey, index) => {
    // `commands` is a direct exchange: a wildcard there would be a literal key nobody sends.
    const pattern = exchange === "commands" ? DIRECT_KEY_PATTERN : TOPIC_KEY_PATTERN;
    if (!pattern.test(routingKey)) {
      const reason = exchange === "commands" ? "a dotted lowercase key without wildcards (commands is a direct exchange)" : `a topic pattern matching ${TOPIC_KEY_PATTERN.source}`;
      problems.push(`${key}.routingKeys[${index}]: must be ${reason} (got ${show(routingKey)})`);
    }
  });
  if (routingKeys) checkDuplicates(routingKeys, (index) => `${key}.routingKeys[${index}]`, "routing key", problems);
  checkInteger(queue.deliveryLimit, `${key}.deliveryLimit`, 1, MAX_DELIVERY_LIMIT, problems);
  checkInteger(queue.messageTtlMs, `${key}.messageTtlMs`, 1, MAX_MESSAGE_TTL_MS, problems);
  checkInteger(queue.maxLength, `${key}.maxLength`, 1, Number.MAX_SAFE_INTEGER, problems);
  const consumers = checkStringList(queue.consumers, `${key}.consumers`, problems);
  if (consumers && consumers.length === 0) problems.push(`${key}.consumers: must name at least one consuming service`);
  consumers?.forEach((consumer, index) => {
    if (!services.has(consumer)) {
      const known = [...services].join(", ") || "none declared";
      problems.push(`${key}.consumers[${index}]: unknown service ${show(consumer)} (services: ${known})`);
    }
  });
  if (consumers) checkDuplicates(consumers, (index) => `${key}.consumers[${index}]`, "consumer", problems);
  return name;
}

/**
 * Checks a broker model from stack config. One message per problem, each starting with the full
 * key (`<keyPrefix>.queues[0].name: …`), so the stack-config validator can print them as they are.
 */
export function validateBrokerModel(model: unknown, keyPrefix: string): string[] {
  const problems: Problems = [];
  if (!isRecord(model)) return [`${keyPrefix}: must be an object with queues and services (got ${show(model)})`];
  checkKeys(model, ["queues", "services"], keyPrefix, problems);

  const serviceNames: string[] = [];
  if (!Array.isArray(model.services)) {
    problems.push(`${keyPrefix}.services: must be a list of services (got ${show(model.services)})`);
  } else {
    model.services.forEach((service, index) => {
      const name = validateService(service, `${keyPrefix}.services[${index}]`, problems);
      if (name !== undefined) serviceNames.push(name);
    });
    const names = model.services.map((service) => (isRecord(service) ? service.name : undefined));
    names.forEach((name, index) => {
      if (typeof name === "string" && names.indexOf(name) !== index) problems.push(`${keyPrefix}.services[${index}].name: duplicate service ${show(name)}`);
    });
  }

  if (!Array.isArray(model.queues)) {
    problems.push(`${keyPrefix}.queues: must be a list of queues (got ${show(model.queues)})`);
  } else {
    const known = new Set(serviceNames);
    model.queues.forEach((queue, index) => validateQueue(queue, `${keyPrefix}.queues[${index}]`, known, problems));
    const names = model.queues.map((queue) => (isRecord(queue) ? queue.name : undefined));
    names.forEach((name, index) => {
      if (typeof name === "string" && names.indexOf(name) !== index) problems.push(`${keyPrefix}.queues[${index}].name: duplicate queue ${show(name)}`);
    });
  }
  return problems;
}

/** Throws one error naming every problem, or returns the model typed. */
export function assertBrokerModel(model: unknown, keyPrefix: string): BrokerModel {
  const problems = validateBrokerModel(model, keyPrefix);
  if (problems.length > 0) throw new Error(`invalid broker model:\n${problems.join("\n")}`);
  return model as BrokerModel;
}
