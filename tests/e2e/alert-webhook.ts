import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One notification as Alertmanager's webhook integration sends it (only the fields the test reads). */
export interface WebhookMessage {
  receiver: string;
  status: "firing" | "resolved";
  alerts: { status: "firing" | "resolved"; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string }[];
}

/** One notification as Alertmanager's Slack integration sends it. */
export interface SlackMessage {
  channel?: string;
  attachments: { title?: string; text?: string; color?: string }[];
}

export interface Delivery {
  /** The path the receiver was configured with (/pager, /slack, ...). */
  path: string;
  /** Milliseconds since the epoch when it arrived. */
  at: number;
  authorization: string | undefined;
  body: unknown;
}

/**
 * Stands in for the pager, Slack, escalation and dead-man's-switch endpoints: one loopback HTTP
 * server that records every POST it gets, by path, with the time it arrived.
 */
export interface AlertWebhook {
  readonly url: string;
  readonly deliveries: Delivery[];
  /** Webhook messages that reached `path`, oldest first. */
  webhooks(path: string): (Delivery & { body: WebhookMessage })[];
  slack(path: string): (Delivery & { body: SlackMessage })[];
  close(): Promise<void>;
}

export async function startAlertWebhook(): Promise<AlertWebhook> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString()));
    request.on("end", () => {
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Kept as text: a message that is not JSON fails the assertions that read it.
      }
      deliveries.push({ path: request.url ?? "", at: Date.now(), authorization: request.headers.authorization, body });
      response.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    deliveries,
    webhooks: (path) => deliveries.filter((d) => d.path === path) as (Delivery & { body: WebhookMessage })[],
    slack: (path) => deliveries.filter((d) => d.path === path) as (Delivery & { body: SlackMessage })[],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
