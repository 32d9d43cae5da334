import type { ChannelModel, ConfirmChannel, Message, Options } from "amqplib";
import type { Logger } from "pino";

/**
 * Why a publish failed; `maybeDelivered` is true when the broker may hold the message anyway,
 * `unroutable` when no queue is bound for it (an event nobody subscribes to).
 */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly maybeDelivered: boolean,
    readonly unroutable = false,
  ) {
    super(message);
    this.name = "PublishError";
  }
}

interface PendingPublish {
  key: number;
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish & { messageId: string };
  deadline: number;
  /** Times its channel was closed by a broker error (not by a lost connection) while it was in flight. */
  channelErrors: number;
  sent: boolean;
  returned: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** A channel closed by the broker for a reason (403, 404, 406) is retried once, then the reason is reported. */
const MAX_CHANNEL_ERRORS = 2;
const DEADLINE_SWEEP_MS = 250;
const MAX_REOPEN_ATTEMPTS = 5;

/**
 * Publishes over a confirm channel and settles each publish on its broker confirm. Publishes made
 * while no channel is open wait (until their deadline) and are sent when one is attached; messages
 * whose channel closed before their confirm are sent again on the next channel, so a confirmed
 * message is never lost and an unconfirmed one is never silently dropped (at-least-once: a resent
 * message may arrive twice, which its messageId lets a consumer detect).
 */
export class ConfirmPublisher {
  private channel: ConfirmChannel | undefined;
  private writable = true;
  private readonly waiting: PendingPublish[] = [];
  /** Keyed by a local sequence number: callers may reuse a messageId (an idempotency key). */
  private readonly inFlight = new Map<number, PendingPublish>();
  private sequence = 0;
  private readonly idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly describeUnavailable: () => string,
    private readonly logger: Logger | undefined,
  ) {
    this.sweep = setInterval(() => this.expire(), DEADLINE_SWEEP_MS);
    this.sweep.unref();
  }

  get pending(): number {
    return this.waiting.length + this.inFlight.size;
  }

  /** Opens a confirm channel on a fresh connection and sends everything that was waiting. */
  async attach(model: ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    channel.on("error", (error: Error) => {
      closeReasons.set(channel, error.message);
      this.logger?.warn({ err: error }, "publish channel closed by the broker");
    });
    channel.on("return", (message: Message) => {
      // Returns are rare (only unroutable messages), so a scan is cheaper than a second index.
      for (const pending of this.inFlight.values()) {
        if (pending.options.messageId === message.properties.messageId && !pending.returned) {
          pending.returned = true;
          break;
        }
      }
    });
    channel.on("drain", () => {
      if (this.channel !== channel) return;
      this.writable = true;
      this.flush();
    });
    channel.on("close", () => {
      if (this.channel === channel) this.channel = undefined;
      // The connection survives a channel-level error: open a new channel on it for the retries.
      if (closeReasons.has(channel) && !this.closed && this.channel === undefined) this.reopenLater(model, 1);
    });
    this.channel = channel;
    this.writable = true;
    this.flush();
  }

  /**
   * A new channel on a connection that is still up, retried a few times; if the connection went
   * down meanwhile, the reconnect opens one instead.
   */
  private reopenLater(model: ChannelModel, attempt: number): void {
    setTimeout(() => {
      if (this.closed || this.channel !== undefined) return;
      this.attach(model).catch((error: Error) => {
        this.logger?.warn({ err: error, attempt }, "could not reopen the publish channel");
        if (attempt < MAX_REOPEN_ATTEMPTS) this.reopenLater(model, attempt + 1);
      });
    }, 50 * attempt).unref();
  }

  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish & { messageId: string }, timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new PublishError("messaging is closed: message not sent", false));
    return new Promise<void>((resolve, reject) => {
      const pending: PendingPublish = { key: (this.sequence += 1), exchange, routingKey, content, options, deadline: Date.now() + timeoutMs, channelErrors: 0, sent: false, returned: false, resolve, reject };
      if (this.channel && this.writable && this.waiting.length === 0) this.send(pending, this.channel);
      else this.waiting.push(pending);
    });
  }

  /** Resolves once nothing is waiting or unconfirmed. */
  whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Fails everything still pending and stops accepting publishes. */
  close(reason: string): void {
    this.closed = true;
    clearInterval(this.sweep);
    for (const pending of [...this.waiting, ...this.inFlight.values()]) {
      pending.reject(new PublishError(`${reason}: message ${pending.options.messageId} not confirmed`, pending.sent));
    }
    this.waiting.length = 0;
    this.inFlight.clear();
    this.settled();
  }

  /** The channel, for closing at shutdown. */
  currentChannel(): ConfirmChannel | undefined {
    return this.channel;
  }

  private flush(): void {
    while (this.channel && this.writable && this.waiting.length > 0) {
      const next = this.waiting.shift() as PendingPublish;
      this.send(next, this.channel);
    }
  }

  private send(pending: PendingPublish, channel: ConfirmChannel): void {
    pending.sent = true;
    pending.returned = false;
    this.inFlight.set(pending.key, pending);
    try {
      // mandatory: an unroutable message comes back (basic.return) instead of vanishing.
      this.writable = channel.publish(pending.exchange, pending.routingKey, pending.content, { ...pending.options, mandatory: true }, (error: unknown) =>
        this.confirmed(pending, channel, error),
      );
    } catch {
      // The channel closed under us; the message never left, so it simply waits for the next one.
      this.inFlight.delete(pending.key);
      this.waiting.unshift(pending);
      if (this.channel === channel) this.channel = undefined;
    }
  }

  private confirmed(pending: PendingPublish, channel: ConfirmChannel, error: unknown): void {
    if (this.inFlight.get(pending.key) !== pending) return;
    this.inFlight.delete(pending.key);
    if (!error) {
      if (pending.returned) {
        pending.reject(new PublishError(`no queue is bound to ${pending.exchange} for routing key ${pending.routingKey}: message returned by the broker`, false, true));
      } else {
        pending.resolve();
      }
    } else if ((error as Error).message === "message nacked") {
      pending.reject(new PublishError(`broker refused message ${pending.options.messageId} (nack): a target queue is full or unavailable`, false));
    } else {
      const channelError = channelCloseReason(channel);
      if (channelError) pending.channelErrors += 1;
      if (channelError && pending.channelErrors >= MAX_CHANNEL_ERRORS) {
        pending.reject(new PublishError(`publish to ${pending.exchange} refused: ${channelError}`, false));
      } else {
        this.waiting.push(pending);
        this.flush();
      }
    }
    this.settled();
  }

  private expire(): void {
    const now = Date.now();
    const expired = (pending: PendingPublish) => pending.deadline <= now;
    for (let index = this.waiting.length - 1; index >= 0; index -= 1) {
      const pending = this.waiting[index] as PendingPublish;
      if (!expired(pending)) continue;
      this.waiting.splice(index, 1);
      pending.reject(new PublishError(`broker unavailable: message ${pending.options.messageId} not sent within the publish timeout (${this.describeUnavailable()})`, pending.sent));
    }
    for (const [key, pending] of this.inFlight) {
      if (!expired(pending)) continue;
      this.inFlight.delete(key);
      pending.reject(new PublishError(`no confirm for message ${pending.options.messageId} within the publish timeout: the broker may or may not hold it`, true));
    }
    this.settled();
  }

  private settled(): void {
    if (this.pending > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/** The broker's reason for closing a channel (403 ACCESS_REFUSED, 404 NOT_FOUND, ...), absent for a lost connection. */
const closeReasons = new WeakMap<ConfirmChannel, string>();

function channelCloseReason(channel: ConfirmChannel): string | undefined {
  return closeReasons.get(channel);
}
