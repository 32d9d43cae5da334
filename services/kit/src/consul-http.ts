import { lookup } from "node:dns/promises";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";

/**
 * How the kit reaches Consul's HTTP API: the agent's URL (CONSUL_HTTP_ADDR), an ACL token, and
 * for HTTPS the CA that signed the agent's certificate plus this workload's own certificate
 * (the servers set verify_incoming, so the API wants a client certificate).
 */
export interface ConsulConnection {
  /** http(s)://host:port */
  url: string;
  /** Sent as X-Consul-Token. */
  token?: string;
  /** PEM contents (not paths): CA, client certificate and key. */
  tls?: { ca?: string; cert?: string; key?: string };
  /**
   * Dial this address instead of resolving the URL's host; TLS still verifies the host name.
   * registerWithConsul pins the agent it registered with, so deregistration reaches the same one.
   */
  dialAddress?: string;
  /** Per request; a blocking query adds its wait to it. */
  timeoutMs?: number;
}

export interface ConsulResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export class ConsulRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "ConsulRequestError";
  }
}

/** One request to the API; resolves with any status (callers decide), rejects on transport failure. */
export function consulRequest(
  connection: ConsulConnection,
  method: "GET" | "PUT",
  path: string,
  options: { body?: unknown; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ConsulResponse> {
  const url = new URL(path, connection.url);
  const https = url.protocol === "https:";
  const headers: Record<string, string> = {};
  if (connection.token !== undefined) headers["x-consul-token"] = connection.token;
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  if (payload !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(payload));
  }
  const timeoutMs = options.timeoutMs ?? connection.timeoutMs ?? 5000;
  return new Promise<ConsulResponse>((resolve, reject) => {
    const common = {
      method,
      host: connection.dialAddress ?? url.hostname,
      port: url.port === "" ? (https ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, host: url.host },
      signal: options.signal,
      timeout: timeoutMs,
    };
    const onResponse = (response: import("node:http").IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", reject);
    };
    const req = https
      ? httpsRequest(
          {
            ...common,
            // The certificate names the host of the URL, whatever address was dialled.
            servername: isIP(url.hostname) ? undefined : url.hostname,
            ca: connection.tls?.ca,
            cert: connection.tls?.cert,
            key: connection.tls?.key,
            rejectUnauthorized: true,
          },
          onResponse,
        )
      : httpRequest(common, onResponse);
    req.on("timeout", () => req.destroy(new ConsulRequestError(`consul ${method} ${url.pathname}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** The same connection, dialling the address the agent's host name resolves to now. */
export async function pinnedConnection(connection: ConsulConnection): Promise<ConsulConnection> {
  if (connection.dialAddress !== undefined) return connection;
  const host = new URL(connection.url).hostname;
  if (isIP(host)) return connection;
  const { address } = await lookup(host);
  return { ...connection, dialAddress: address };
}
