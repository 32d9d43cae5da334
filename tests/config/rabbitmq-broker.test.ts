// The rendered rabbitmq.conf and definitions.json, loaded at boot by a real RabbitMQ node
// (the pinned version from its test root, started by scripts/local-servers as the rabbitmq user),
// reached over AMQPS as rendered.
import { randomUUID } from "node:crypto";
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type GetMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rabbitMemoryPlan, rabbitDiskFreeLimitBytes } from "../../components/broker/rabbitmq-conf";
import { BrokerUnderTest, startBroker } from "../../services/kit/test/messaging/broker-node";

const MEMORY_MIB = 768;
const STORAGE_GIB = 8;

let broker: BrokerUnderTest;
const openConnections = new Set<ChannelModel>();

async function open(user: string): Promise<ChannelModel> {
  const model = await connect(broker.url(user), broker.socketOptions);
  // A refused operation closes its channel with an error the test inspects; the connection's own
  // error event must not become an unhandled exception meanwhile.
  model.on("error", () => undefined);
  openConnections.add(model);
  model.on("close", () => openConnections.delete(model));
  return model;
}

async function confirmChannel(user: string): Promise<ConfirmChannel> {
  const channel = await (await open(user)).createConfirmChannel();
  channel.on("error", () => undefined);
  return channel;
}

function publishConfirmed(channel: ConfirmChannel, exchange: string, routingKey: string, body: unknown, headers: Record<string, unknown> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(exchange, routingKey, Buffer.from(JSON.stringify(body)), { persistent: true, messageId: randomUUID(), contentType: "application/json", headers }, (error: unknown) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
    );
  });
}

/** Polls basic.get until a message arrives (dead-lettering is asynchronous). */
async function getOne(channel: Channel, queue: string, attempts = 100): Promise<GetMessage> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const message = await channel.get(queue, { noAck: false });
    if (message) return message;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no message arrived in ${queue}`);
}

/** Resolves with the channel's close error: what the broker said when it refused an operation. */
function closedWith(channel: Channel): Promise<Error> {
  return new Promise((resolve) => channel.once("error", resolve));
}

interface DeathRecord {
  reason: string;
  queue: string;
  exchange: string;
  "routing-keys": string[];
  count: number;
}

beforeAll(async () => {
  broker = await startBroker(MEMORY_MIB, STORAGE_GIB);
});

afterAll(async () => {
  await Promise.all([...openConnections].map((model) => model.close().catch(() => undefined)));
  await broker?.node.destroy();
});

describe("rabbitmq.conf as the node runs it", () => {
  it("blocks publishers at the watermark computed from the container limit, not the host's RAM", () => {
    const status = JSON.parse(broker.node.ctl(["status", "--formatter", "json"])) as { vm_memory_high_watermark_limit: number; disk_free_limit: number };
    expect(status.vm_memory_high_watermark_limit).toBe(rabbitMemoryPlan(MEMORY_MIB).watermarkBytes);
    expect(status.vm_memory_high_watermark_limit).toBeLessThan(MEMORY_MIB * 1024 * 1024);
    expect(status.disk_free_limit).toBe(rabbitDiskFreeLimitBytes(MEMORY_MIB, STORAGE_GIB));
  });

  it("uses no deprecated feature: RabbitMQ 4.x removes them release by release (classic mirroring, transient non-exclusive queues, global QoS, ...)", () => {
    const used = broker.node.ctl(["list_deprecated_features", "--used", "--formatter", "json"]);
    expect(JSON.parse(used)).toEqual([]);
  });

  it("has no guest user and refuses guest credentials", async () => {
    expect(broker.node.ctl(["list_users", "--silent"]).split("\n").map((line) => line.split("\t")[0])).not.toContain("guest");
    await expect(connect(`amqps://guest:guest@${broker.node.host}:${broker.node.amqpPort}/`, broker.socketOptions)).rejects.toThrow(/ACCESS_REFUSED|403/);
  });

  it("exposes per-queue metrics on the Prometheus endpoint", async () => {
    const channel = await confirmChannel("users");
    await publishConfirmed(channel, "events", "audit.metrics-probe", { probe: true });
    const admin = await (await open("admin")).createChannel();
    await admin.purgeQueue("audit.records");
    // Aggregated metrics carry no queue label; only per-object metrics say which queue got the message.
    const perQueue = /rabbitmq_queue_messages_published_total\{[^}]*queue="audit\.records"[^}]*exchange="events"\} [1-9]/;
    let metrics = "";
    for (let attempt = 0; attempt < 40 && !perQueue.test(metrics); attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 500));
      metrics = await (await fetch(`http://127.0.0.1:${broker.node.prometheusPort}/metrics`)).text();
    }
    expect(metrics).toMatch(perQueue);
    // A quorum queue's own Raft metrics (RabbitMQ 4.3 names it rabbitmq_raft_term, labels in any order).
    expect(metrics).toMatch(/rabbitmq_raft_term\{(?=[^}]*vhost="fundament")(?=[^}]*queue="mailer\.user-created\.dlq")[^}]*\}/);
  });
});

describe("definitions.json as the node imported it", () => {
  it("routes a persistent confirmed event to its queue, where the consuming service reads it", async () => {
    const publisher = await confirmChannel("users");
    const consumer = await (await open("mailer")).createChannel();
    const received = new Promise<ConsumeMessage>((resolve) => {
      void consumer.consume("mailer.user-created", (message) => {
        if (!message) return;
        consumer.ack(message);
        resolve(message);
      });
    });
    await publishConfirmed(publisher, "events", "user.created", { id: "u-1" });
    const message = await received;
    expect(JSON.parse(message.content.toString())).toEqual({ id: "u-1" });
    expect(message.properties.deliveryMode).toBe(2);
    expect(message.fields.exchange).toBe("events");
    await consumer.close();
  });

  it("dead-letters a message its handler rejected into <queue>.dlq with death headers", async () => {
    const publisher = await confirmChannel("users");
    const consumer = await (await open("mailer")).createChannel();
    const rejected = new Promise<void>((resolve) => {
      void consumer.consume("mailer.user-created", (message) => {
        if (!message) return;
        consumer.nack(message, false, false);
        resolve();
      });
    });
    await publishConfirmed(publisher, "events", "user.created", { id: "u-failing" });
    await rejected;
    const operator = await (await open("admin")).createChannel();
    const dead = await getOne(operator, "mailer.user-created.dlq");
    operator.ack(dead);
    expect(JSON.parse(dead.content.toString())).toEqual({ id: "u-failing" });
    const deaths = dead.properties.headers?.["x-death"] as DeathRecord[];
    expect(deaths[0]).toMatchObject({ reason: "rejected", queue: "mailer.user-created", exchange: "events", "routing-keys": ["user.created"], count: 1 });
    await consumer.close();
  });

  it("dead-letters a message redelivered past the queue's delivery limit", async () => {
    const publisher = await confirmChannel("users");
    const consumer = await (await open("mailer")).createChannel();
    let deliveries = 0;
    await consumer.consume("mailer.user-created", (message) => {
      if (!message) return;
      deliveries += 1;
      // A consumer that keeps failing and requeueing: without the limit this would loop forever.
      // Since RabbitMQ 4.3 only basic.reject counts as a failed delivery; a requeueing
      // basic.nack ("not processed") leaves the delivery count alone and never reaches the limit.
      consumer.reject(message, true);
    });
    await publishConfirmed(publisher, "events", "user.created", { id: "u-poison" });
    const operator = await (await open("admin")).createChannel();
    const dead = await getOne(operator, "mailer.user-created.dlq", 300);
    operator.ack(dead);
    await consumer.close();
    expect(JSON.parse(dead.content.toString())).toEqual({ id: "u-poison" });
    const deaths = dead.properties.headers?.["x-death"] as DeathRecord[];
    expect(deaths[0]).toMatchObject({ reason: "delivery_limit", queue: "mailer.user-created" });
    // deliveryLimit 2: the first delivery and two redeliveries, then the broker stops.
    expect(deliveries).toBe(3);
  });

  it("keeps a service user inside its permissions", async () => {
    const users = await confirmChannel("users");
    const refusedCommand = closedWith(users);
    users.publish("commands", "mail.send", Buffer.from("{}"), { persistent: true });
    expect((await refusedCommand).message).toMatch(/403.*ACCESS_REFUSED.*exchange 'commands'/);

    const direct = await confirmChannel("users");
    const refusedDirect = closedWith(direct);
    direct.sendToQueue("mailer.user-created", Buffer.from("{}"));
    expect((await refusedDirect).message).toMatch(/403.*ACCESS_REFUSED/);

    const mailer = await (await open("mailer")).createChannel();
    mailer.on("error", () => undefined);
    await expect(mailer.consume("billing.user-events", () => undefined)).rejects.toThrow(/403.*ACCESS_REFUSED.*billing\.user-events/);

    const publisherReading = await (await open("users")).createChannel();
    publisherReading.on("error", () => undefined);
    await expect(publisherReading.consume("mailer.user-created", () => undefined)).rejects.toThrow(/403.*ACCESS_REFUSED/);

    const intoOtherDlq = await confirmChannel("mailer");
    const refusedTopic = closedWith(intoOtherDlq);
    intoOtherDlq.publish("dlx", "billing.user-events", Buffer.from("{}"));
    expect((await refusedTopic).message).toMatch(/403.*ACCESS_REFUSED/);
  });

  it("lets a consumer route an unreadable message into its own queue's dlq", async () => {
    const mailer = await confirmChannel("mailer");
    await publishConfirmed(mailer, "dlx", "mailer.send", { broken: true }, { "x-fundament-dead-letter-reason": "test" });
    const operator = await (await open("admin")).createChannel();
    const dead = await getOne(operator, "mailer.send.dlq");
    operator.ack(dead);
    expect(dead.properties.headers?.["x-fundament-dead-letter-reason"]).toBe("test");
  });

  it("keeps 10,000 persistent confirmed messages across a broker restart", async () => {
    const total = 10_000;
    const channel = await confirmChannel("users");
    const ids: string[] = [];
    for (let index = 0; index < total; index += 1) {
      const id = `m-${index}`;
      ids.push(id);
      channel.publish("events", "audit.recorded", Buffer.from(JSON.stringify({ index })), { persistent: true, messageId: id });
      if (index % 1000 === 999) await channel.waitForConfirms();
    }
    await channel.waitForConfirms();
    await Promise.all([...openConnections].map((model) => model.close().catch(() => undefined)));

    await broker.node.stop();
    await broker.node.start();

    const operator = await (await open("auditor")).createChannel();
    const seen = new Set<string>();
    await operator.prefetch(500);
    await new Promise<void>((resolve) => {
      // Done when all arrived, or when nothing more arrives for 20 s (then the count shows what was lost).
      let idle = setTimeout(resolve, 20_000);
      void operator.consume("audit.records", (message) => {
        if (!message) return;
        seen.add(String(message.properties.messageId));
        operator.ack(message);
        clearTimeout(idle);
        idle = setTimeout(resolve, seen.size === total ? 0 : 20_000);
      });
    });
    expect(seen.size).toBe(total);
    expect(ids.every((id) => seen.has(id))).toBe(true);
  }, 240_000);
});
