import { randomBytes } from "node:crypto";
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import { renderRabbitConf } from "../../../../components/broker/rabbitmq-conf";
import { renderDefinitions, type UserCredential } from "../../../../components/broker/rabbitmq-definitions";
import { brokerModelFor } from "../../../../components/services/service-broker";
import { testPki } from "../../../../scripts/local-servers/shared-test-pki";
import { startRabbit, type RabbitNode } from "../../../../scripts/local-servers/rabbitmq-node";
import { waitFor } from "../../../../scripts/local-servers/free-port";

export interface ObservedMessage {
  type: string;
  routingKey: string;
  headers: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/**
 * A RabbitMQ node booted as the stack boots it: rendered rabbitmq.conf and definitions.json for a
 * stack with users and gpu-jobs (the gpu-jobs command queues, their dlqs and policies, the gpu-jobs
 * user's least-privilege permissions), plus an operator connection that records every gpu-job event.
 */
export interface GpuJobsBroker {
  node: RabbitNode;
  /** AMQPS, verified against the test CA, as the platform's broker is reached. */
  endpoint(user: "gpu-jobs" | "users" | "admin"): { host: string; port: number; vhost: string; user: string; password: string; tls: { ca: string; servername: string } };
  /** The CA the broker's leaf is verified against (the service's AMQP_CA_FILE). */
  caPem: string;
  passwords: Record<string, string>;
  events: ObservedMessage[];
  operator: Channel;
  waitForEvent(matches: (event: ObservedMessage) => boolean, what: string, timeoutMs?: number): Promise<ObservedMessage>;
  destroy(): Promise<void>;
}

const credential = (): UserCredential => ({ password: randomBytes(24).toString("base64url"), saltBase64: randomBytes(4).toString("base64") });

export async function startGpuJobsBroker(): Promise<GpuJobsBroker> {
  const services = { users: credential(), "gpu-jobs": credential() };
  const admin = credential();
  const node = await startRabbit({ conf: (tls) => renderRabbitConf({ memoryMiB: 1024, storageGiB: 8, tls }), definitions: renderDefinitions({ model: brokerModelFor(["users", "gpu-jobs"], []), services, admin }) });
  const passwords: Record<string, string> = { admin: admin.password, users: services.users.password, "gpu-jobs": services["gpu-jobs"].password };
  const tls = { ca: testPki().caPem, servername: testPki().serverName };
  const endpoint = (user: string) => ({ host: node.host, port: node.amqpPort, vhost: "fundament", user, password: passwords[user] ?? "", tls });
  const model: ChannelModel = await connect({ protocol: "amqps", hostname: node.host, port: node.amqpPort, username: "admin", password: admin.password, vhost: "fundament" }, tls);
  model.on("error", () => undefined);
  const operator = await model.createChannel();
  const events: ObservedMessage[] = [];
  const observed = await operator.assertQueue("", { exclusive: true, durable: false });
  await operator.bindQueue(observed.queue, "events", "gpu-job.#");
  await operator.consume(
    observed.queue,
    (message: ConsumeMessage | null) => {
      if (!message) return;
      events.push({ type: String(message.properties.type), routingKey: message.fields.routingKey, headers: (message.properties.headers ?? {}) as Record<string, unknown>, payload: JSON.parse(message.content.toString("utf8")) as Record<string, unknown> });
    },
    { noAck: true },
  );
  return {
    node,
    endpoint,
    caPem: tls.ca,
    passwords,
    events,
    operator,
    async waitForEvent(matches, what, timeoutMs = 30_000) {
      let found: ObservedMessage | undefined;
      await waitFor(what, async () => (found = events.find(matches)) !== undefined, timeoutMs);
      return found!;
    },
    async destroy() {
      await model.close().catch(() => undefined);
      await node.destroy();
    },
  };
}
