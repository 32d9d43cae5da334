// Trace context across RabbitMQ (a publisher's span is the parent of the consumer's span) and the
// kit's outbox relay (NOTIFY wakes it, rows go out once, the writer's trace comes along), against
// a real RabbitMQ node booted with the broker layer's definitions and a real PostgreSQL.
import { context, ROOT_CONTEXT, SpanKind, trace, type SpanContext } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../../../scripts/local-servers/postgres-server";
import { createPgPool, type Pool } from "../../src/postgres";
import { listenConnection } from "../../src/postgres-listener";
import { createLogger } from "../../src/logger";
import { defineMessage, enqueueMessage, Messaging, OutboxRelay, type DeliveryContext, type OutboxTable } from "../../src/messaging";
import { BrokerUnderTest, startBroker } from "./broker-node";

const userRenamed = defineMessage<{ id: string; name: string }>({
  name: "user.renamed",
  exchange: "events",
  routingKey: "user.renamed",
  schema: { type: "object", required: ["id", "name"], properties: { id: { type: "string" }, name: { type: "string" } }, additionalProperties: false },
});

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("test");
const logger = createLogger({ service: "kit-test", level: "silent" });

let broker: BrokerUnderTest;
let postgres: PostgresServer;
let pool: Pool;
let publisher: Messaging;
let consumer: Messaging;
const received: Array<{ payload: { id: string; name: string }; delivery: DeliveryContext; active: SpanContext | undefined }> = [];

const OUTBOX: OutboxTable = { name: "test_outbox", channel: "test_outbox" };

beforeAll(async () => {
  [broker, postgres] = await Promise.all([startBroker(), startPostgres()]);
  postgres.psql("create database kit_outbox");
  pool = createPgPool({ url: `postgres://postgres@127.0.0.1:${postgres.port}/kit_outbox`, password: postgres.superuserPassword, ca: postgres.caPem, applicationName: "kit-outbox-test", max: 6 });
  await pool.query(`create table test_outbox (id bigserial primary key, message_id uuid not null default gen_random_uuid(), type text not null, payload jsonb not null, trace_context jsonb)`);
  publisher = await Messaging.connect({ endpoint: broker.endpoint("users"), prefetch: 10, logger });
  consumer = await Messaging.connect({ endpoint: broker.endpoint("billing"), prefetch: 50, logger, tracer });
  await consumer.consume("billing.user-events", userRenamed, async (payload, delivery) => {
    received.push({ payload, delivery, active: trace.getActiveSpan()?.spanContext() });
  });
}, 300_000);

afterAll(async () => {
  await Promise.all([publisher?.close(), consumer?.close()]);
  await pool?.end();
  await Promise.all([broker?.node.destroy(), postgres?.destroy()]);
});

async function delivered(id: string, timeoutMs = 20_000): Promise<(typeof received)[number]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = received.find((entry) => entry.payload.id === id);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`message ${id} not delivered within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function consumerSpanOf(messageId: string | undefined): ReadableSpan {
  const span = exporter.getFinishedSpans().find((candidate) => candidate.kind === SpanKind.CONSUMER && candidate.attributes["messaging.message.id"] === messageId);
  if (!span) throw new Error(`no consumer span for message ${messageId}`);
  return span;
}

describe("trace context across RabbitMQ", () => {
  it("carries the publisher's span in traceparent; the consumer's span is its child and is active in the handler", async () => {
    const requestSpan = tracer.startSpan("POST /users/:id/name", { kind: SpanKind.SERVER });
    await context.with(trace.setSpan(ROOT_CONTEXT, requestSpan), () => publisher.publish(userRenamed, { id: "direct-1", name: "Ada" }));
    requestSpan.end();
    const message = await delivered("direct-1");
    const parent = requestSpan.spanContext();
    expect(String(message.delivery.headers.traceparent)).toBe(`00-${parent.traceId}-${parent.spanId}-01`);
    const span = consumerSpanOf(message.delivery.messageId);
    expect(span.name).toBe("billing.user-events process");
    expect(span.spanContext().traceId).toBe(parent.traceId);
    expect(span.parentSpanId).toBe(parent.spanId);
    expect(message.active?.spanId).toBe(span.spanContext().spanId);
  });

  it("starts a new trace for a message published outside any span", async () => {
    await publisher.publish(userRenamed, { id: "untraced-1", name: "Grace" });
    const message = await delivered("untraced-1");
    expect(message.delivery.headers.traceparent).toBeUndefined();
    const span = consumerSpanOf(message.delivery.messageId);
    expect(span.parentSpanId).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(consumerSpanOf(received.find((entry) => entry.payload.id === "direct-1")!.delivery.messageId).spanContext().traceId);
  });
});

async function outboxRows(): Promise<number> {
  const result = await pool.query<{ n: number }>("select count(*)::int as n from test_outbox");
  return result.rows[0]!.n;
}

describe("kit outbox relay", () => {
  it("relays a committed row at once through NOTIFY (the poll is an hour), in the writer's trace, and deletes it after the confirm", async () => {
    const listen = listenConnection(`postgres://postgres@127.0.0.1:${postgres.port}/kit_outbox`, postgres.superuserPassword, postgres.caPem, "kit-outbox-listen");
    const relay = new OutboxRelay({ pool, publisher, table: OUTBOX, types: [userRenamed], logger, pollMs: 3_600_000, listen });
    relay.start();
    try {
      // Let the relay's LISTEN and first (empty) pass settle, so only the NOTIFY can deliver the row.
      await expect.poll(() => relay.listening, { timeout: 10_000 }).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const requestSpan = tracer.startSpan("POST /users", { kind: SpanKind.SERVER });
      const client = await pool.connect();
      await context.with(trace.setSpan(ROOT_CONTEXT, requestSpan), async () => {
        await client.query("begin");
        await enqueueMessage(client, OUTBOX, userRenamed, { id: "outbox-1", name: "Alan" });
        await client.query("commit");
      });
      client.release();
      requestSpan.end();
      const started = Date.now();
      const message = await delivered("outbox-1", 10_000);
      const span = consumerSpanOf(message.delivery.messageId);
      expect(span.spanContext().traceId).toBe(requestSpan.spanContext().traceId);
      expect(span.parentSpanId).toBe(requestSpan.spanContext().spanId);
      expect(Date.now() - started).toBeLessThan(10_000);
      // The relay deletes the row in its transaction once the broker confirms; the consumer may
      // hold the message before that commit lands, so the deletion is awaited, within a bound.
      const deadline = Date.now() + 5_000;
      let left = await outboxRows();
      while (left !== 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        left = await outboxRows();
      }
      expect(left).toBe(0);
    } finally {
      await relay.stop();
    }
  });

  it("sends each of 60 rows exactly once with two relays draining side by side (SKIP LOCKED)", async () => {
    const client = await pool.connect();
    await client.query("begin");
    for (let index = 0; index < 60; index += 1) await enqueueMessage(client, OUTBOX, userRenamed, { id: `pair-${index}`, name: "x" });
    await client.query("commit");
    client.release();
    const relays = [0, 1].map(() => new OutboxRelay({ pool, publisher, table: OUTBOX, types: [userRenamed], logger, pollMs: 3_600_000, batchSize: 7 }));
    for (const relay of relays) relay.start();
    try {
      for (let index = 0; index < 60; index += 1) await delivered(`pair-${index}`);
      // Give a duplicate (if any) the time to arrive before counting.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const pairs = received.filter((entry) => entry.payload.id.startsWith("pair-"));
      expect(pairs).toHaveLength(60);
      expect(new Set(pairs.map((entry) => entry.delivery.messageId)).size).toBe(60);
      expect((await pool.query("select count(*)::int as n from test_outbox")).rows[0].n).toBe(0);
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
    }
  });

  it("keeps a row the broker did not confirm and sends it on a later pass", async () => {
    let refuse = true;
    const flaky = {
      publish: async <T,>(type: Parameters<Messaging["publish"]>[0], payload: T, options?: Parameters<Messaging["publish"]>[2]): Promise<void> => {
        if (refuse) throw new Error("broker unavailable: message not sent within the publish timeout");
        await publisher.publish(type as typeof userRenamed, payload as unknown as { id: string; name: string }, options);
      },
    };
    await enqueueMessage(pool, OUTBOX, userRenamed, { id: "kept-1", name: "y" });
    const relay = new OutboxRelay({ pool, publisher: flaky, table: OUTBOX, types: [userRenamed], logger, pollMs: 200 });
    relay.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect((await pool.query("select count(*)::int as n from test_outbox")).rows[0].n).toBe(1);
      expect(received.some((entry) => entry.payload.id === "kept-1")).toBe(false);
      refuse = false;
      await delivered("kept-1");
    } finally {
      await relay.stop();
    }
  });

  it("refuses a table or column name that is not a plain identifier, naming it", () => {
    expect(() => new OutboxRelay({ pool, publisher, table: { name: "outbox; drop table x", channel: "ok", columns: { payload: "Payload" } }, types: [userRenamed], logger, pollMs: 100 })).toThrow(
      /name: must be a lowercase SQL identifier[\s\S]*columns\.payload: must be a lowercase SQL identifier/,
    );
  });
});
