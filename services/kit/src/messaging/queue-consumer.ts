import { randomUUID } from "node:crypto";
import { context as otelContext, SpanKind, SpanStatusCode, trace, type Tracer } from "@opentelemetry/api";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import type { Logger } from "pino";
import { ensureContextManager, extractTraceContext } from "../trace-context";
import { settleWithin } from "./bounded-wait";
import { DEAD_LETTER_EXCHANGE, deadLetterHeaders, deadLetterRoutingKey } from "./dead-letter-headers";
import { selectRoute, type DeliveryContext, type MessageRoute } from "./message-route";

/** How long stop() waits for the broker to answer a cancel or close before it moves on. */
const BROKER_REPLY_MS = 5_000;

export interface ConsumeOptions {
  /**
   * Assert the queue (durable quorum) on every (re)connect, so a consumer fails clearly when its
   * queue is missing or of another type. Needs configure permission on the queue. Default true.
   */
  declare?: boolean;
}

export interface ConsumerDependencies {
  prefetch: number;
  logger: Logger | undefined;
  /** Starts a CONSUMER span per delivery when set. */
  tracer: Tracer | undefined;
  /** Publishes with confirm; used to send unreadable messages to the dead-letter path. */
  publish: (exchange: string, routingKey: string, content: Buffer, options: { messageId: string; persistent: boolean; contentType?: string; type?: string; headers: Record<string, unknown> }) => Promise<void>;
  /** Called when the channel closed but the connection did not: the consumer wants a new channel. */
  reattachLater: (consumer: QueueConsumer) => void;
}

/**
 * One consumer on its own channel (so a channel error on one queue leaves the others running).
 * Each delivery is acked after its handler succeeds and nacked without requeue when it fails, so
 * the queue's policy dead-letters it; a message that cannot be read is published to the
 * dead-letter path with a reason header and acked, and the consumer keeps going.
 */
export class QueueConsumer {
  private channel: Channel | undefined;
  private consumerTag: string | undefined;
  private stopped = false;
  private attaching = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    readonly queue: string,
    private readonly routes: readonly MessageRoute[],
    private readonly options: ConsumeOptions,
    private readonly deps: ConsumerDependencies,
  ) {
    ensureContextManager();
  }

  get active(): boolean {
    return this.channel !== undefined && !this.stopped;
  }

  get handling(): number {
    return this.inFlight.size;
  }

  async attach(model: ChannelModel): Promise<void> {
    if (this.stopped || this.attaching || this.channel) return;
    this.attaching = true;
    try {
      await this.subscribe(model);
    } finally {
      this.attaching = false;
    }
  }

  private async subscribe(model: ChannelModel): Promise<void> {
    const channel = await model.createChannel();
    channel.on("error", (error: Error) => this.deps.logger?.warn({ err: error, queue: this.queue }, "consumer channel closed by the broker"));
    channel.on("close", () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.consumerTag = undefined;
      if (!this.stopped) this.deps.reattachLater(this);
    });
    try {
      await channel.prefetch(this.deps.prefetch);
      if (this.options.declare !== false) await channel.assertQueue(this.queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
      const { consumerTag } = await channel.consume(this.queue, (message) => this.receive(channel, message), { noAck: false });
      this.channel = channel;
      this.consumerTag = consumerTag;
    } catch (error) {
      await settleWithin(channel.close(), BROKER_REPLY_MS);
      throw new Error(`consume ${this.queue}: ${(error as Error).message}`);
    }
  }

  /** Stops new deliveries, waits for handlers in flight, then closes the channel. */
  async stop(): Promise<void> {
    this.stopped = true;
    const channel = this.channel;
    if (channel && this.consumerTag) await settleWithin(channel.cancel(this.consumerTag), BROKER_REPLY_MS);
    await Promise.allSettled([...this.inFlight]);
    this.channel = undefined;
    if (channel) await settleWithin(channel.close(), BROKER_REPLY_MS);
  }

  private receive(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (queue deleted, leader moved): start over on a new channel.
      this.deps.logger?.warn({ queue: this.queue }, "consumer cancelled by the broker");
      if (this.channel === channel) channel.close().catch(() => undefined);
      return;
    }
    const work = this.handle(channel, message).finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }

  private async handle(channel: Channel, message: ConsumeMessage): Promise<void> {
    const selected = selectRoute(this.routes, message.properties.type as string | undefined);
    const decoded = "reason" in selected ? { ok: false as const, reason: selected.reason } : selected.decode(message.content);
    if (!decoded.ok) {
      await this.deadLetterUnreadable(channel, message, decoded.reason);
      return;
    }
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    const context: DeliveryContext = {
      messageId: message.properties.messageId as string | undefined,
      routingKey: message.fields.routingKey,
      redelivered: message.fields.redelivered,
      deliveryCount: Number(headers["x-delivery-count"] ?? 0),
      headers,
    };
    // The handler runs in the publisher's trace: its own span (when tracing is on) is a child of
    // the context the message carried, and whatever it publishes continues that trace.
    const parent = extractTraceContext(headers);
    const span = this.deps.tracer?.startSpan(
      `${this.queue} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": "rabbitmq",
          "messaging.operation.type": "process",
          "messaging.destination.name": message.fields.exchange,
          "messaging.rabbitmq.destination.routing_key": message.fields.routingKey,
          "messaging.consumer.group.name": this.queue,
          ...(context.messageId !== undefined ? { "messaging.message.id": context.messageId } : {}),
        },
      },
      parent,
    );
    const active = span ? trace.setSpan(parent, span) : parent;
    try {
      await otelContext.with(active, () => decoded.run(context));
    } catch (error) {
      span?.recordException(error as Error);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: "handler failed; message dead-lettered" });
      span?.end();
      this.deps.logger?.error({ err: error, queue: this.queue, messageId: context.messageId }, "message handler failed; dead-lettering the message");
      settle(() => channel.nack(message, false, false));
      return;
    }
    span?.end();
    settle(() => channel.ack(message));
  }

  private async deadLetterUnreadable(channel: Channel, message: ConsumeMessage, reason: string): Promise<void> {
    this.deps.logger?.warn({ queue: this.queue, messageId: message.properties.messageId, reason }, "unreadable message; dead-lettering it");
    try {
      await this.deps.publish(DEAD_LETTER_EXCHANGE, deadLetterRoutingKey(this.queue), message.content, {
        messageId: (message.properties.messageId as string | undefined) ?? randomUUID(),
        persistent: true,
        contentType: message.properties.contentType as string | undefined,
        type: message.properties.type as string | undefined,
        headers: deadLetterHeaders(message, this.queue, reason),
      });
      settle(() => channel.ack(message));
    } catch (error) {
      // The copy with its reason did not reach the dlq: let the broker dead-letter the original.
      this.deps.logger?.error({ err: error, queue: this.queue }, "could not publish the unreadable message to the dead-letter path");
      settle(() => channel.nack(message, false, false));
    }
  }
}

/** An ack or nack on a channel that has since closed is moot: the broker redelivers the message. */
function settle(action: () => void): void {
  try {
    action();
  } catch {
    return;
  }
}
