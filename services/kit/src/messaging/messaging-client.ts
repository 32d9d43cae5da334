import { randomUUID } from "node:crypto";
import type { ChannelModel } from "amqplib";
import { settleWithin } from "./bounded-wait";
import { ConfirmPublisher, PublishError } from "./confirm-publisher";
import { encodeMessage, type MessageType } from "./message-type";
import { resolveMessagingOptions, type MessagingOptions, type ResolvedMessagingOptions } from "./messaging-options";
import { route, type MessageHandler, type MessageRoute } from "./message-route";
import { QueueConsumer, type ConsumeOptions } from "./queue-consumer";
import { ReconnectingConnection } from "./reconnecting-connection";
import { ensureContextManager, injectTraceHeaders, type TraceHeaders } from "../trace-context";

/** How long shutdown waits for the broker to answer a close before it moves on. */
const BROKER_REPLY_MS = 5_000;

export interface PublishOptions {
  /** Defaults to a random UUID; reuse one as an idempotency key when a publish is retried. */
  messageId?: string;
  correlationId?: string;
  headers?: Record<string, string | number | boolean>;
  /**
   * The trace this message continues (`traceparent`, `tracestate`); defaults to the active
   * OpenTelemetry context. An outbox relay passes the context captured when its row was written.
   */
  traceHeaders?: TraceHeaders;
}

export interface Consumer {
  readonly queue: string;
  /** Stops this consumer: no new deliveries, in-flight handlers finish, its channel closes. */
  stop(): Promise<void>;
}

/**
 * A service's link to the broker: typed, schema-checked publish that resolves on the broker's
 * confirm, typed consume with ack/nack/dead-letter, reconnection that restores both, and a
 * graceful close. Create with `Messaging.connect(options)`.
 */
export class Messaging {
  private readonly consumers = new Set<QueueConsumer>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: ResolvedMessagingOptions,
    private readonly connection: ReconnectingConnection,
    private readonly publisher: ConfirmPublisher,
  ) {
    // Publishes read the active context for their traceparent: it must follow async work.
    ensureContextManager();
    connection.onConnect((model) => this.restore(model));
  }

  /** Connects (retrying until connectTimeoutMs) and opens the publish channel. */
  static async connect(options: MessagingOptions): Promise<Messaging> {
    const resolved = resolveMessagingOptions(options);
    const connection = new ReconnectingConnection(resolved);
    const publisher = new ConfirmPublisher(() => connection.describe(), resolved.logger);
    const messaging = new Messaging(resolved, connection, publisher);
    try {
      await connection.start();
    } catch (error) {
      publisher.close("messaging could not connect");
      throw error;
    }
    return messaging;
  }

  /** For readiness checks: false while reconnecting. */
  get connected(): boolean {
    return this.connection.isConnected && this.closing === undefined;
  }

  /**
   * Validates the payload against its schema (throwing MessageValidationError naming each bad
   * field), publishes it persistent and mandatory, and resolves once the broker confirms it.
   * While disconnected it waits for the connection up to publishTimeoutMs, then rejects with a
   * PublishError; it never resolves for a message the broker did not take.
   */
  publish<T>(type: MessageType<T>, payload: T, options: PublishOptions = {}): Promise<void> {
    let content: Buffer;
    try {
      content = encodeMessage(type, payload);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.closing) return Promise.reject(new PublishError("messaging is closed: message not sent", false));
    const headers = { ...(options.headers ?? {}), ...(options.traceHeaders ?? injectTraceHeaders()) };
    return this.publisher.publish(
      type.exchange,
      type.routingKey,
      content,
      {
        messageId: options.messageId ?? randomUUID(),
        persistent: true,
        contentType: "application/json",
        type: type.name,
        timestamp: Math.floor(Date.now() / 1000),
        ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
      },
      this.options.publishTimeoutMs,
    );
  }

  /**
   * Starts consuming `queue` as messages of `type` with the configured prefetch. Rejects with the
   * broker's reason (403 access refused, 404 no such queue) if the first subscription fails;
   * after that the consumer resubscribes by itself whenever the connection comes back.
   */
  consume<T>(queue: string, type: MessageType<T>, handler: MessageHandler<T>, options: ConsumeOptions = {}): Promise<Consumer> {
    return this.consumeRoutes(queue, [route(type, handler)], options);
  }

  /**
   * Consumes a queue that carries several message types (`route(type, handler)` each), picking the
   * handler by the message's type property; a type without a route is dead-lettered with a reason.
   */
  async consumeRoutes(queue: string, routes: MessageRoute[], options: ConsumeOptions = {}): Promise<Consumer> {
    if (this.closing) throw new Error(`consume ${queue}: messaging is closed`);
    if (typeof queue !== "string" || queue.length === 0) throw new Error(`consume: queue must be a non-empty string (got ${JSON.stringify(queue)})`);
    if (routes.length === 0) throw new Error(`consume ${queue}: routes must name at least one message type`);
    const names = routes.map((candidate) => candidate.typeName);
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate !== undefined) throw new Error(`consume ${queue}: routes: message type ${duplicate} has two handlers`);
    const consumer = new QueueConsumer(queue, routes, options, {
      prefetch: this.options.prefetch,
      logger: this.options.logger,
      tracer: this.options.tracer,
      publish: (exchange, routingKey, content, publishOptions) => this.publisher.publish(exchange, routingKey, content, publishOptions, this.options.publishTimeoutMs),
      reattachLater: (lost) => this.reattachLater(lost),
    });
    const model = await this.connection.waitForConnection(Date.now() + this.options.connectTimeoutMs);
    if (!model) throw new Error(`consume ${queue}: broker unavailable (${this.connection.describe()})`);
    // Registered before it subscribes, so a reconnect during the subscription still restores it.
    this.consumers.add(consumer);
    try {
      await consumer.attach(model);
    } catch (error) {
      this.consumers.delete(consumer);
      await consumer.stop();
      throw error;
    }
    return {
      queue,
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.stop();
      },
    };
  }

  /** Stops consuming, lets in-flight handlers and unconfirmed publishes finish (up to closeTimeoutMs), then closes. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const deadline = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), this.options.closeTimeoutMs).unref());
    const drained = (async () => {
      await Promise.all([...this.consumers].map((consumer) => consumer.stop()));
      await this.publisher.whenIdle();
    })();
    const outcome = await Promise.race([drained.then(() => "drained" as const), deadline]);
    if (outcome === "timeout") this.options.logger?.warn({ closeTimeoutMs: this.options.closeTimeoutMs }, "messaging close timed out; closing with work in flight");
    this.publisher.close("messaging closed");
    const channel = this.publisher.currentChannel();
    if (channel) await settleWithin(channel.close(), BROKER_REPLY_MS);
    await settleWithin(this.connection.close(), BROKER_REPLY_MS);
  }

  /** On every (re)connect: a new confirm channel, then every consumer resubscribed. */
  private async restore(model: ChannelModel): Promise<void> {
    await this.publisher.attach(model);
    for (const consumer of this.consumers) {
      try {
        await consumer.attach(model);
      } catch (error) {
        this.options.logger?.error({ err: error, queue: consumer.queue }, "could not resubscribe; retrying");
        this.reattachLater(consumer);
      }
    }
  }

  private reattachLater(consumer: QueueConsumer): void {
    const retry = setTimeout(() => {
      if (this.closing || !this.consumers.has(consumer) || consumer.active) return;
      const model = this.connection.connection;
      // No connection: restore() resubscribes every consumer when it comes back.
      if (!model) return;
      consumer.attach(model).catch((error: Error) => {
        this.options.logger?.error({ err: error, queue: consumer.queue }, "could not resubscribe; retrying");
        this.reattachLater(consumer);
      });
    }, this.options.maxDelayMs);
    retry.unref();
  }
}
