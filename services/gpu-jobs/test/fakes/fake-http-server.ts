import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What a fake does with the next launch: the documented answers, and one that succeeds but answers too late. */
export type LaunchScenario = "ok" | "no_capacity" | "quota" | "rate_limit" | "auth" | "server_error" | "slow_success";

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: unknown;
}

export interface FakeAnswer {
  status: number;
  body?: unknown;
  /** Sent as is (Vast.ai's plain-text 429). */
  text?: string;
  headers?: Record<string, string>;
  /** Never answer: the launch has happened, and the client gives up waiting (its timeout, not ours, decides). */
  hold?: boolean;
}

export interface FakeServer {
  url: string;
  requests: FakeRequest[];
  close(): Promise<void>;
}

export async function startFakeServer(handle: (request: FakeRequest) => FakeAnswer | Promise<FakeAnswer>): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://fake");
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = raw === "" ? undefined : JSON.parse(raw);
      } catch {
        body = raw;
      }
      const request: FakeRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers: req.headers, body };
      requests.push(request);
      void Promise.resolve(handle(request)).then((answer) => {
        const send = () => {
          if (res.destroyed) return;
          const headers = { "content-type": answer.text !== undefined ? "text/plain" : "application/json", ...(answer.headers ?? {}) };
          res.writeHead(answer.status, headers).end(answer.text ?? (answer.body === undefined ? "" : JSON.stringify(answer.body)));
        };
        if (!answer.hold) send();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Launch behaviours queued per test; an empty queue launches normally. */
export class ScenarioQueue {
  private readonly queue: LaunchScenario[] = [];
  push(...scenarios: LaunchScenario[]): void {
    this.queue.push(...scenarios);
  }
  next(): LaunchScenario {
    return this.queue.shift() ?? "ok";
  }
}

export const VALID_KEY = "test-provider-key";

export function bearerOk(request: FakeRequest): boolean {
  return request.headers.authorization === `Bearer ${VALID_KEY}`;
}
