// A RabbitMQ node loaded with the broker layer's rendered rabbitmq.conf and definitions.json,
// shared by the broker config tests and the messaging module tests. It speaks AMQPS only, as
// rendered; every client here verifies it against the test CA and the name "localhost".
import { randomBytes } from "node:crypto";
import { BrokerModel } from "../../../../components/broker/broker-model";
import { renderRabbitConf } from "../../../../components/broker/rabbitmq-conf";
import { renderDefinitions, UserCredential } from "../../../../components/broker/rabbitmq-definitions";
import { RabbitNode, startRabbit } from "../../../../scripts/local-servers/rabbitmq-node";
import { testPki } from "../../../../scripts/local-servers/shared-test-pki";

export const TEST_MODEL: BrokerModel = {
  services: [
    { name: "users", publishes: ["events"] },
    { name: "mailer", publishes: [] },
    { name: "billing", publishes: ["commands"] },
    { name: "auditor", publishes: [] },
  ],
  queues: [
    { name: "mailer.user-created", routingKeys: ["user.created"], consumers: ["mailer"], deliveryLimit: 2 },
    { name: "mailer.send", exchange: "commands", routingKeys: ["mail.send"], consumers: ["mailer"] },
    { name: "billing.user-events", routingKeys: ["user.*"], consumers: ["billing"], messageTtlMs: 3_600_000, maxLength: 100_000 },
    { name: "audit.records", routingKeys: ["audit.#"], consumers: ["auditor"] },
  ],
};

export interface BrokerUnderTest {
  node: RabbitNode;
  /** Generated per run, like the stack's RandomPasswords. */
  passwords: Record<string, string>;
  endpoint(user: string): { host: string; port: number; vhost: string; user: string; password: string; tls: { ca: string; servername: string } };
  /** amqps://user:password@host:port/fundament, for amqplib's connect with `socketOptions`. */
  url(user: string): string;
  /** amqplib's socket options for `url`: the CA and the name the broker's certificate carries. */
  socketOptions: { ca: string; servername: string };
}

function credential(): UserCredential {
  return { password: randomBytes(24).toString("base64url"), saltBase64: randomBytes(4).toString("base64") };
}

/** Starts a node as production would boot: rendered conf, definitions imported at boot. */
export async function startBroker(memoryMiB = 1024, storageGiB = 8): Promise<BrokerUnderTest> {
  const services = Object.fromEntries(TEST_MODEL.services.map((service) => [service.name, credential()]));
  const admin = credential();
  const node = await startRabbit({
    conf: (tls) => renderRabbitConf({ memoryMiB, storageGiB, tls }),
    definitions: renderDefinitions({ model: TEST_MODEL, services, admin }),
  });
  const passwords: Record<string, string> = { admin: admin.password };
  for (const [name, entry] of Object.entries(services)) passwords[name] = entry.password;
  const socketOptions = { ca: testPki().caPem, servername: testPki().serverName };
  const endpoint = (user: string) => ({ host: node.host, port: node.amqpPort, vhost: "fundament", user, password: passwords[user] ?? "", tls: socketOptions });
  return {
    node,
    passwords,
    endpoint,
    socketOptions,
    url: (user) => `amqps://${encodeURIComponent(user)}:${encodeURIComponent(passwords[user] ?? "")}@${node.host}:${node.amqpPort}/fundament`,
  };
}
