// The messaging module against a real RabbitMQ node booted with the broker layer's rendered
// definitions (scripts/local-servers): publish/consume, dead-lettering, restarts, shutdown.
import { randomUUID } from "node:crypto";
import { createConnection } from "node:net";
import { connect, type Channel, type ChannelModel, type GetMessage } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEAD_LETTER_HEADERS, defineMessage, Messaging, MessageValidationError, PublishError, route, type MessagingOptions } from "../../src/messaging";
import { BrokerUnderTest, startBroker } from "./broker-node";
import { startCutProxy } from "./tcp-cut-proxy";

interface UserCreated {
  id: string;
  email: string;
}

const userCreated = defineMessage<UserCreated>({
  name: "user.created",
  exchange: "events",
  routingKey: "user.created",
  schema: {
    type: "object",
    required: ["id", "email"],
    properties: { id: { type: "string", minLength: 1 }, email: { type: "string", pattern: "^[^@\\s]+@[^@\\s]+$" } },
    additionalProperties: false,
  },
});

const sendMail = defineMessage<{ to: string }>({
  name: "mail.send",
  exchange: "commands",
  routingKey: "mail.send",
  schema: { type: "object", required: ["to"], properties: { to: { type: "string" } }, additionalProperties: false },
});

const nobodyListens = defineMessage<{ n: number }>({
  name: "user.nobody-listens",
  exchange: "events",
  routingKey: "nobody.listens",
  schema: { type: "object", required: ["n"], properties: { n: { type: "number" } } },
});

const userDeleted = defineMessage<{ id: string }>({
  name: "user.deleted",
  exchange: "events",
  routingKey: "user.deleted",
  schema: { type: "object", required: ["id"], properties: { id: { type: "string" } }, additionalProperties: false },
});

const userRenamed = defineMessage<{ id: string; name: string }>({
  name: "user.renamed",
  exchange: "events",
  routingKey: "user.renamed",
  schema: { type: "object", required: ["id", "name"], properties: { id: { type: "string" }, name: { type: "string" } } },
});

let broker: BrokerUnderTest;
let operatorModel: ChannelModel;
let operator: Channel;
const opened: Messaging[] = [];

async function messaging(user: string, overrides: Partial<MessagingOptions> = {}): Promise<Messaging> {
  const client = await Messaging.connect({ endpoint: broker.endpoint(user), prefetch: 20, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 }, ...overrides });
  opened.push(client);
  return client;
}

async function getOne(queue: string, attempts = 100): Promise<GetMessage> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const message = await operator.get(queue, { noAck: false });
    if (message) {
      operator.ack(message);
      return message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no message arrived in ${queue}`);
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A SIGKILLed Erlang VM takes a moment to release its sockets; a node started before then finds
 * the old listener still answering and is mistaken for up.
 */
async function untilPortClosed(host: string, port: number): Promise<void> {
  const answers = () =>
    new Promise<boolean>((resolve) => {
      const socket = createConnection(port, host);
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
  await until(`port ${port} to close`, async () => !(await answers()), 30_000);
}

async function openOperator(): Promise<void> {
  operatorModel = await connect(broker.url("admin"), broker.socketOptions);
  operatorModel.on("error", () => undefined);
  operator = await operatorModel.createChannel();
}

beforeAll(async () => {
  broker = await startBroker();
  await openOperator();
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((client) => client.close()));
  for (const queue of ["mailer.user-created", "mailer.user-created.dlq", "billing.user-events", "billing.user-events.dlq"]) await operator.purgeQueue(queue);
});

afterAll(async () => {
  await operatorModel?.close().catch(() => undefined);
  await broker?.node.destroy();
});

describe("messaging module", () => {
  it("delivers a typed message published with confirms to its consumer, and acks it", async () => {
    const publisher = await messaging("users");
    const consumer = await messaging("mailer");
    const received: { payload: UserCreated; messageId: string | undefined }[] = [];
    await consumer.consume("mailer.user-created", userCreated, async (payload, context) => {
      received.push({ payload, messageId: context.messageId });
    });
    await publisher.publish(userCreated, { id: "u-1", email: "a@example.org" }, { messageId: "id-1" });
    await until("the delivery", () => received.length === 1);
    expect(received[0]).toEqual({ payload: { id: "u-1", email: "a@example.org" }, messageId: "id-1" });
    await consumer.close();
    expect((await operator.checkQueue("mailer.user-created")).messageCount).toBe(0);
  });

  it("refuses a payload that breaks its schema before sending, naming the field", async () => {
    const publisher = await messaging("users");
    const attempt = publisher.publish(userCreated, { id: "u-2", email: "not-an-address" });
    await expect(attempt).rejects.toBeInstanceOf(MessageValidationError);
    await expect(attempt).rejects.toThrow(/\/email: must match pattern/);
    await expect(publisher.publish(userCreated, { id: "u-2" } as UserCreated)).rejects.toThrow(/\/email: is required/);
    expect((await operator.checkQueue("mailer.user-created")).messageCount).toBe(0);
  });

  it("fails a publish nobody can receive instead of resolving it", async () => {
    const publisher = await messaging("users");
    await expect(publisher.publish(nobodyListens, { n: 1 })).rejects.toThrow(/no queue is bound to events for routing key nobody\.listens/);
    await expect(publisher.publish(nobodyListens, { n: 2 })).rejects.toMatchObject({ unroutable: true, maybeDelivered: false });
  });

  it("fails a publish outside the service's permissions with the broker's reason", async () => {
    const publisher = await messaging("users");
    const refused = publisher.publish(sendMail, { to: "x@example.org" });
    await expect(refused).rejects.toBeInstanceOf(PublishError);
    await expect(refused).rejects.toThrow(/403.*ACCESS_REFUSED.*commands/);
    // The channel came back: the service can still publish what it may.
    await publisher.publish(userCreated, { id: "u-after-refusal", email: "b@example.org" });
  });

  it("rejects consuming another service's queue with the broker's reason", async () => {
    const mailer = await messaging("mailer");
    await expect(mailer.consume("billing.user-events", userCreated, async () => undefined)).rejects.toThrow(/consume billing\.user-events: .*403.*ACCESS_REFUSED/);
  });

  it("dead-letters a message whose handler fails into <queue>.dlq with the broker's death headers", async () => {
    const publisher = await messaging("users");
    const consumer = await messaging("mailer");
    await consumer.consume("mailer.user-created", userCreated, async () => {
      throw new Error("mail server down");
    });
    await publisher.publish(userCreated, { id: "u-3", email: "c@example.org" }, { messageId: "id-3" });
    const dead = await getOne("mailer.user-created.dlq");
    expect(dead.properties.messageId).toBe("id-3");
    expect(dead.properties.headers?.["x-death"]).toEqual([expect.objectContaining({ reason: "rejected", queue: "mailer.user-created" })]);
  });

  it("sends malformed JSON and schema-invalid messages to the dead-letter path with the reason, and keeps consuming", async () => {
    const consumer = await messaging("mailer");
    const handled: string[] = [];
    await consumer.consume("mailer.user-created", userCreated, async (payload) => {
      handled.push(payload.id);
    });
    const raw = await connect(broker.url("users"), broker.socketOptions);
    raw.on("error", () => undefined);
    const channel = await raw.createConfirmChannel();
    const send = (body: string, messageId: string) =>
      new Promise<void>((resolve, reject) =>
        channel.publish("events", "user.created", Buffer.from(body), { persistent: true, messageId, type: "user.created" }, (error: unknown) => (error ? reject(new Error(String(error))) : resolve())),
      );
    await send("{not json", "bad-json");
    await send(JSON.stringify({ id: "u-4" }), "bad-schema");
    await send(JSON.stringify({ id: "u-5", email: "d@example.org" }), "good");
    await raw.close();

    await until("the valid message after the invalid ones", () => handled.includes("u-5"));
    const dead = [await getOne("mailer.user-created.dlq"), await getOne("mailer.user-created.dlq")];
    const reasons = Object.fromEntries(dead.map((message) => [message.properties.messageId, String(message.properties.headers?.[DEAD_LETTER_HEADERS.reason])]));
    expect(reasons["bad-json"]).toMatch(/^malformed JSON: /);
    expect(reasons["bad-schema"]).toMatch(/^schema-invalid user\.created: \/email: is required/);
    expect(dead[0]?.content.toString()).toBe("{not json");
    expect(dead[0]?.properties.headers?.[DEAD_LETTER_HEADERS.originalRoutingKey]).toBe("user.created");
    expect(handled).toEqual(["u-5"]);
    expect(consumer.connected).toBe(true);
  });

  it("routes several message types on one queue by their type, dead-lettering a type it has no route for", async () => {
    const publisher = await messaging("users");
    const consumer = await messaging("billing");
    const seen: string[] = [];
    await consumer.consumeRoutes("billing.user-events", [
      route(userCreated, async (payload) => {
        seen.push(`created ${payload.email}`);
      }),
      route(userDeleted, async (payload) => {
        seen.push(`deleted ${payload.id}`);
      }),
    ]);
    await publisher.publish(userCreated, { id: "u-7", email: "r@example.org" });
    await publisher.publish(userRenamed, { id: "u-7", name: "Seven" }, { messageId: "renamed" });
    await publisher.publish(userDeleted, { id: "u-7" });
    await until("both routed messages", () => seen.length === 2);
    expect(seen.sort()).toEqual(["created r@example.org", "deleted u-7"]);
    const dead = await getOne("billing.user-events.dlq");
    expect(dead.properties.messageId).toBe("renamed");
    expect(dead.properties.headers?.[DEAD_LETTER_HEADERS.reason]).toBe('unexpected message type "user.renamed" (this consumer reads user.created, user.deleted)');
    await expect(consumer.consumeRoutes("billing.user-events", [route(userDeleted, async () => undefined), route(userDeleted, async () => undefined)])).rejects.toThrow(
      "consume billing.user-events: routes: message type user.deleted has two handlers",
    );
  });

  it("runs at most `prefetch` handlers at once", async () => {
    const publisher = await messaging("users");
    const consumer = await messaging("mailer", { prefetch: 3 });
    let running = 0;
    let most = 0;
    let done = 0;
    await consumer.consume("mailer.user-created", userCreated, async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 200));
      running -= 1;
      done += 1;
    });
    await Promise.all(Array.from({ length: 12 }, (_, n) => publisher.publish(userCreated, { id: `p-${n}`, email: "p@example.org" })));
    await until("all twelve handled", () => done === 12);
    expect(most).toBe(3);
  });

  it("finishes in-flight handlers on close and acks their messages", async () => {
    const publisher = await messaging("users");
    const consumer = await messaging("mailer");
    let started = 0;
    let finished = 0;
    await consumer.consume("mailer.user-created", userCreated, async () => {
      started += 1;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      finished += 1;
    });
    await Promise.all([1, 2, 3].map((n) => publisher.publish(userCreated, { id: `slow-${n}`, email: "e@example.org" })));
    await until("handlers to start", () => started === 3);
    await consumer.close();
    expect(finished).toBe(3);
    expect((await operator.checkQueue("mailer.user-created")).messageCount).toBe(0);
    await expect(consumer.publish(userCreated, { id: "late", email: "f@example.org" })).rejects.toThrow(/closed/);
  });

  it("holds a publish while the connection is down and sends it once the connection is back", async () => {
    const proxy = await startCutProxy(broker.node.host, broker.node.amqpPort);
    try {
      const publisher = await messaging("users", { endpoint: { ...broker.endpoint("users"), port: proxy.port }, publishTimeoutMs: 30_000 });
      proxy.cut();
      await until("the client to notice", () => !publisher.connected, 10_000);
      const held = publisher.publish(userCreated, { id: "u-held", email: "g@example.org" }, { messageId: "held" });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      proxy.restore();
      await held;
      expect((await getOne("mailer.user-created")).properties.messageId).toBe("held");
    } finally {
      await proxy.close();
    }
  });

  it("fails a publish clearly when the connection stays down past the publish timeout", async () => {
    const proxy = await startCutProxy(broker.node.host, broker.node.amqpPort);
    try {
      const publisher = await messaging("users", { endpoint: { ...broker.endpoint("users"), port: proxy.port }, publishTimeoutMs: 1500 });
      proxy.cut();
      await until("the client to notice", () => !publisher.connected, 10_000);
      const attempt = publisher.publish(userCreated, { id: "u-lost", email: "h@example.org" });
      await expect(attempt).rejects.toBeInstanceOf(PublishError);
      await expect(attempt).rejects.toThrow(/broker unavailable: message .* not sent within the publish timeout/);
    } finally {
      await proxy.close();
    }
  });

  it.each([
    { how: "a clean shutdown", stop: () => broker.node.stop() },
    // No clean close: the socket just dies, and only what the broker fsynced before confirming survives.
    { how: "kill -9", stop: () => broker.node.kill().then(() => untilPortClosed(broker.node.host, broker.node.amqpPort)) },
  ])("loses no confirmed message across a broker restart ($how) mid-stream, and the consumer resumes by itself", async ({ stop }) => {
    const publisher = await messaging("users", { publishTimeoutMs: 120_000 });
    const consumer = await messaging("mailer", { publishTimeoutMs: 120_000 });
    const consumed = new Set<string>();
    await consumer.consume("mailer.user-created", userCreated, async (_payload, context) => {
      consumed.add(String(context.messageId));
    });

    const total = 3000;
    const confirmed = new Set<string>();
    const failed: Error[] = [];
    let restart: Promise<void> | undefined;
    let confirmedWhileDown = -1;
    const window = 100;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const id = `stream-${next}`;
        next += 1;
        if (next === 1000) {
          restart = stop().then(() => {
            confirmedWhileDown = confirmed.size;
            return broker.node.start();
          });
        }
        try {
          await publisher.publish(userCreated, { id, email: "s@example.org" }, { messageId: id });
          confirmed.add(id);
        } catch (error) {
          failed.push(error as Error);
        }
      }
    };
    await Promise.all(Array.from({ length: window }, worker));
    await restart;
    // The operator's connection did not survive the restart either.
    await openOperator();

    expect(failed).toEqual([]);
    // The restart really fell in the middle of the stream: publishes were outstanding while the broker was down.
    expect(confirmedWhileDown).toBeGreaterThan(0);
    expect(confirmedWhileDown).toBeLessThan(total);
    expect(confirmed.size).toBe(total);
    await until("the consumer to read every confirmed message", () => [...confirmed].every((id) => consumed.has(id)), 90_000);
    expect(consumer.connected).toBe(true);
    expect(publisher.connected).toBe(true);
  }, 240_000);

  it("rejects bad options with every bad field named", async () => {
    await expect(Messaging.connect({ endpoint: { ...broker.endpoint("users"), port: 0 }, prefetch: 0 })).rejects.toThrow(/endpoint\.port: must be an integer between 1 and 65535 \(got 0\)\nprefetch: must be an integer/);
  });

  it("fails connect clearly, without the password, when the broker refuses the credentials", async () => {
    const attempt = Messaging.connect({ endpoint: { ...broker.endpoint("users"), password: `wrong-${randomUUID()}` }, prefetch: 1, connectTimeoutMs: 2000 });
    await expect(attempt).rejects.toThrow(/could not connect within 2000 ms \(amqps:\/\/users@127\.0\.0\.1:\d+\/fundament: .*ACCESS_REFUSED/);
    await expect(attempt).rejects.not.toThrow(/wrong-/);
  });
});
