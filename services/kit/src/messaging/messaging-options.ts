import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";

/** Where the broker is and who this service is; the password usually comes from a `*_FILE`. */
export interface AmqpEndpoint {
  host: string;
  port: number;
  vhost: string;
  user: string;
  password: string;
  /** AMQPS: verify the broker against this CA (AMQP_CA_FILE; the system's CAs when absent) and the name it is dialled by. */
  tls?: { ca?: string; servername?: string };
}

export interface ReconnectOptions {
  /** First wait after a lost connection. Default 100 ms. */
  initialDelayMs?: number;
  /** Longest wait between attempts. Default 5000 ms. */
  maxDelayMs?: number;
}

export interface MessagingOptions {
  endpoint: AmqpEndpoint;
  /** Unacknowledged deliveries per consumer (basic.qos); from the service's config. */
  prefetch: number;
  /** How long a publish may wait for a connection and its confirm before it fails. Default 30000 ms. */
  publishTimeoutMs?: number;
  /** How long connect() keeps trying before it fails. Default 30000 ms. */
  connectTimeoutMs?: number;
  /** How long close() waits for in-flight handlers and publishes. Default 30000 ms. */
  closeTimeoutMs?: number;
  reconnect?: ReconnectOptions;
  /** Shown in the management UI's connection list. */
  connectionName?: string;
  /** AMQP heartbeat in seconds: how quickly a silent broker is noticed. Default 10. */
  heartbeatSeconds?: number;
  logger?: Logger;
  /** Each delivery gets a CONSUMER span, child of the publisher's context carried in `traceparent`. */
  tracer?: Tracer;
}

export interface ResolvedMessagingOptions {
  endpoint: AmqpEndpoint;
  prefetch: number;
  publishTimeoutMs: number;
  connectTimeoutMs: number;
  closeTimeoutMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
  connectionName: string;
  heartbeatSeconds: number;
  logger: Logger | undefined;
  tracer: Tracer | undefined;
}

function positiveInteger(value: unknown, field: string, problems: string[], max = 2_147_483_647): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    problems.push(`${field}: must be an integer between 1 and ${max} (got ${JSON.stringify(value)})`);
  }
}

/** Applies defaults and rejects bad options with one error naming every bad field. */
export function resolveMessagingOptions(options: MessagingOptions): ResolvedMessagingOptions {
  const problems: string[] = [];
  const endpoint = options.endpoint as Partial<AmqpEndpoint> | undefined;
  if (!endpoint) problems.push("endpoint: is required");
  else {
    if (typeof endpoint.host !== "string" || endpoint.host.length === 0) problems.push(`endpoint.host: must be a non-empty string (got ${JSON.stringify(endpoint.host)})`);
    positiveInteger(endpoint.port, "endpoint.port", problems, 65_535);
    if (typeof endpoint.vhost !== "string" || endpoint.vhost.length === 0) problems.push(`endpoint.vhost: must be a non-empty string (got ${JSON.stringify(endpoint.vhost)})`);
    if (typeof endpoint.user !== "string" || endpoint.user.length === 0) problems.push(`endpoint.user: must be a non-empty string (got ${JSON.stringify(endpoint.user)})`);
    // The value is a secret: say what is wrong without echoing it.
    if (typeof endpoint.password !== "string" || endpoint.password.length === 0) problems.push("endpoint.password: must be a non-empty string");
    if (endpoint.tls?.ca !== undefined && (typeof endpoint.tls.ca !== "string" || !endpoint.tls.ca.includes("BEGIN CERTIFICATE"))) {
      problems.push("endpoint.tls.ca: must be a PEM certificate (the CA the broker's certificate is verified against)");
    }
  }
  positiveInteger(options.prefetch, "prefetch", problems, 65_535);
  const resolved: ResolvedMessagingOptions = {
    endpoint: options.endpoint,
    prefetch: options.prefetch,
    publishTimeoutMs: options.publishTimeoutMs ?? 30_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
    closeTimeoutMs: options.closeTimeoutMs ?? 30_000,
    initialDelayMs: options.reconnect?.initialDelayMs ?? 100,
    maxDelayMs: options.reconnect?.maxDelayMs ?? 5_000,
    connectionName: options.connectionName ?? `${options.endpoint?.user ?? "service"}@${process.pid}`,
    heartbeatSeconds: options.heartbeatSeconds ?? 10,
    logger: options.logger,
    tracer: options.tracer,
  };
  positiveInteger(resolved.publishTimeoutMs, "publishTimeoutMs", problems);
  positiveInteger(resolved.connectTimeoutMs, "connectTimeoutMs", problems);
  positiveInteger(resolved.closeTimeoutMs, "closeTimeoutMs", problems);
  positiveInteger(resolved.initialDelayMs, "reconnect.initialDelayMs", problems);
  positiveInteger(resolved.maxDelayMs, "reconnect.maxDelayMs", problems);
  positiveInteger(resolved.heartbeatSeconds, "heartbeatSeconds", problems, 3_600);
  if (problems.length > 0) throw new Error(`messaging options:\n${problems.join("\n")}`);
  return resolved;
}
