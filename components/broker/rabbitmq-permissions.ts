import { BrokerModel, DEAD_LETTER_EXCHANGE, queuesConsumedBy } from "./broker-model";

/** RabbitMQ's documented way to grant nothing: the regex matches no resource name in use. */
export const NOTHING = "^$";

export interface ServicePermissions {
  /** Queues it may (re-)declare: its own, so a reconnecting consumer can assert them. */
  configure: string;
  /** Exchanges it may publish to. */
  write: string;
  /** Queues it may consume from. */
  read: string;
  /** Routing keys it may use on `dlx`: only its own queues' dead-letter keys. */
  deadLetterWrite: string;
}

function escapeRegex(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
}

/** An anchored alternation matching exactly these names and nothing else. */
export function exactNames(names: readonly string[]): string {
  if (names.length === 0) return NOTHING;
  return `^(${names.map(escapeRegex).join("|")})$`;
}

/**
 * Least privilege for one service user: it reads and declares only the queues it consumes,
 * publishes only to the exchanges it declares, and writes to `dlx` only when it consumes (to
 * route an invalid message to its own queue's dead-letter queue, never to another's).
 */
export function servicePermissions(model: BrokerModel, service: string): ServicePermissions {
  const spec = model.services.find((candidate) => candidate.name === service);
  if (!spec) throw new Error(`broker model: unknown service ${JSON.stringify(service)}`);
  const own = queuesConsumedBy(model, service).map((queue) => queue.name);
  const writes: string[] = [...spec.publishes];
  if (own.length > 0) writes.push(DEAD_LETTER_EXCHANGE);
  return {
    configure: exactNames(own),
    write: exactNames(writes),
    read: exactNames(own),
    deadLetterWrite: exactNames(own),
  };
}
