import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local HTTP server that answers as Consul's documented agent, catalog and health APIs do, for
 * the parts the kit uses (no Consul binary here: it has no Debian package):
 * - PUT /v1/agent/service/register: needs service:write on the Name; the check starts critical
 *   (Consul's default) until runChecks() polls its HTTP URL, as the agent would.
 * - PUT /v1/agent/service/deregister/:id: 404 "Unknown service ID" for an id it does not hold.
 * - GET /v1/catalog/services and /v1/health/service/:name (`passing` filter, service:read).
 * - Blocking queries: `index` at or above the current raft index waits for a change or for
 *   `wait` (default 5 minutes), and every answer carries X-Consul-Index. reportIndex() makes it
 *   report another index (going backwards after a server change, or 0), as the docs warn can happen.
 */

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  token: string | undefined;
  body: Record<string, unknown> | undefined;
  at: number;
}

interface Registration {
  node: string;
  nodeAddress: string;
  definition: { ID: string; Name: string; Address?: string; Port: number; Tags?: string[]; Meta?: Record<string, string>; Check?: { HTTP?: string; CheckID?: string } };
  status: "passing" | "warning" | "critical";
}

export interface FakeConsul {
  url: string;
  recorded: Recorded[];
  /** Raft index of the catalogue now. */
  index(): number;
  /** Registers directly (another agent's instance), as the catalogue would hold it. */
  add(definition: Registration["definition"], status: Registration["status"], node?: string): void;
  setStatus(id: string, status: Registration["status"]): void;
  remove(id: string): void;
  /** Runs every registered HTTP check once, as the agent does each interval. */
  runChecks(): Promise<void>;
  /** From now on answers carry this X-Consul-Index instead of the real one (undefined: the real one again). */
  reportIndex(index: number | undefined): void;
  registered(): string[];
  close(): Promise<void>;
}

export async function startFakeConsul(options: { tokens: Record<string, { write: string[]; read: string[] }> }): Promise<FakeConsul> {
  let raftIndex = 10;
  let reported: number | undefined;
  const registrations = new Map<string, Registration>();
  const recorded: Recorded[] = [];
  const waiters = new Set<() => void>();
  const bump = () => {
    raftIndex++;
    for (const wake of [...waiters]) wake();
  };

  const may = (token: string | undefined, access: "read" | "write", service: string): boolean => {
    const grants = token === undefined ? undefined : options.tokens[token];
    if (!grants) return false;
    return grants.write.includes(service) || (access === "read" && grants.read.includes(service));
  };

  const send = (response: ServerResponse, status: number, body: unknown) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    response.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json", "x-consul-index": String(reported ?? raftIndex) }).end(text);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, text: string) => {
    const url = new URL(request.url ?? "/", "http://fake");
    const token = request.headers["x-consul-token"] as string | undefined;
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    recorded.push({ method: request.method ?? "", path: url.pathname, query: url.searchParams, token, body, at: Date.now() });
    if (request.method === "PUT" && url.pathname === "/v1/agent/service/register") {
      const definition = body as unknown as Registration["definition"];
      if (typeof definition?.Name !== "string" || typeof definition.Port !== "number") return send(response, 400, "Request decode failed");
      if (!may(token, "write", definition.Name)) return send(response, 403, "Permission denied");
      const id = definition.ID ?? definition.Name;
      registrations.set(id, { node: "consul-0", nodeAddress: "10.0.0.1", definition: { ...definition, ID: id }, status: "critical" });
      bump();
      return send(response, 200, "");
    }
    const deregister = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(url.pathname);
    if (request.method === "PUT" && deregister) {
      const id = decodeURIComponent(deregister[1]);
      const found = registrations.get(id);
      if (!found) return send(response, 404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
      if (!may(token, "write", found.definition.Name)) return send(response, 403, "Permission denied");
      registrations.delete(id);
      bump();
      return send(response, 200, "");
    }
    if (request.method === "GET" && url.pathname === "/v1/catalog/services") {
      const names = [...registrations.values()].filter((r) => may(token, "read", r.definition.Name));
      return send(response, 200, Object.fromEntries(names.map((r) => [r.definition.Name, r.definition.Tags ?? []])));
    }
    const health = /^\/v1\/health\/service\/(.+)$/.exec(url.pathname);
    if (request.method === "GET" && health) {
      const name = decodeURIComponent(health[1]);
      const index = Number(url.searchParams.get("index") ?? "0");
      const waitSeconds = Number((url.searchParams.get("wait") ?? "300s").replace(/s$/, ""));
      if (index > 0 && index >= raftIndex) {
        await new Promise<void>((resolve) => {
          const wake = () => (waiters.delete(wake), clearTimeout(timer), resolve());
          const timer = setTimeout(wake, waitSeconds * 1000);
          waiters.add(wake);
        });
      }
      if (!may(token, "read", name)) return send(response, 200, []);
      const passingOnly = url.searchParams.has("passing") && url.searchParams.get("passing") !== "false";
      const entries = [...registrations.values()]
        .filter((r) => r.definition.Name === name && (!passingOnly || r.status === "passing"))
        .map((r) => ({
          Node: { Node: r.node, Address: r.nodeAddress },
          Service: { ID: r.definition.ID, Service: r.definition.Name, Address: r.definition.Address ?? "", Port: r.definition.Port, Tags: r.definition.Tags ?? [], Meta: r.definition.Meta ?? {} },
          Checks: [{ CheckID: `service:${r.definition.ID}`, Status: r.status }],
        }));
      return send(response, 200, entries);
    }
    return send(response, 404, "not found");
  };

  const server: Server = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString()));
    request.on("end", () => void handle(request, response, text));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    recorded,
    index: () => raftIndex,
    add(definition, status, node = "consul-1") {
      registrations.set(definition.ID, { node, nodeAddress: "10.0.0.2", definition, status });
      bump();
    },
    setStatus(id, status) {
      const found = registrations.get(id);
      if (!found) throw new Error(`no registration ${id}`);
      found.status = status;
      bump();
    },
    remove(id) {
      registrations.delete(id);
      bump();
    },
    async runChecks() {
      for (const registration of registrations.values()) {
        const check = registration.definition.Check?.HTTP;
        if (!check) continue;
        const status = await fetch(check, { signal: AbortSignal.timeout(2000) }).then(
          (r) => (r.ok ? "passing" : r.status === 429 ? "warning" : "critical"),
          () => "critical" as const,
        );
        if (status !== registration.status) {
          registration.status = status;
          bump();
        }
      }
    },
    reportIndex(index) {
      reported = index;
    },
    registered: () => [...registrations.keys()],
    close: () =>
      new Promise<void>((resolve) => {
        for (const wake of [...waiters]) wake();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
