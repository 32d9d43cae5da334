import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../src/logger";
import { serveOptionsFrom, startServer, type ServeEnv } from "../src/serve";
import { createService } from "../src/service";

// No Consul binary on this machine: a recording HTTP server stands in for the agent's API, so
// this checks the requests the kit sends (paths, body, token) and when it sends them.
interface Recorded {
  method: string;
  url: string;
  token: string | undefined;
  body: Record<string, unknown> | undefined;
  at: number;
}

let agent: Server;
let agentUrl: string;
const recorded: Recorded[] = [];
let failWith: number | undefined;

beforeAll(async () => {
  agent = createServer((request: IncomingMessage, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString()));
    request.on("end", () => {
      recorded.push({ method: request.method!, url: request.url!, token: request.headers["x-consul-token"] as string | undefined, body: text ? JSON.parse(text) : undefined, at: Date.now() });
      response.writeHead(failWith ?? 200).end(failWith ? "Permission denied" : "");
    });
  });
  await new Promise<void>((resolve) => agent.listen(0, "127.0.0.1", resolve));
  agentUrl = `http://127.0.0.1:${(agent.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => agent.close(() => resolve())));

async function demoApp() {
  const app = await createService({ name: "demo", logger: createLogger({ service: "demo", level: "silent" }) });
  app.get("/hello", async () => ({ ok: true }));
  return app;
}

describe("consul self-registration", () => {
  it("registers with an HTTP check on /health/ready and deregisters before the listener closes", async () => {
    recorded.length = 0;
    const app = await demoApp();
    const running = await startServer(app, { port: 0, host: "127.0.0.1", probePeriodMs: 300, consul: { agentUrl, service: "demo", address: "127.0.0.1", token: "acl-token", tags: ["v1"] } });
    const port = Number(new URL(running.url).port);

    expect(recorded).toHaveLength(1);
    const register = recorded[0]!;
    expect(register.method).toBe("PUT");
    expect(register.url).toBe("/v1/agent/service/register");
    expect(register.token).toBe("acl-token");
    expect(register.body).toMatchObject({
      Name: "demo",
      Address: "127.0.0.1",
      Port: port,
      Tags: ["v1"],
      Check: { HTTP: `http://127.0.0.1:${port}/health/ready`, Interval: "10s", Timeout: "3s", DeregisterCriticalServiceAfter: "60s" },
    });
    // The check the agent will run passes against the live instance.
    expect((await fetch((register.body!.Check as { HTTP: string }).HTTP)).status).toBe(200);

    const stopping = running.shutdown("test");
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Deregistered while the instance still answers (it is in its probe period).
    expect(recorded[1]).toMatchObject({ method: "PUT", url: `/v1/agent/service/deregister/${encodeURIComponent(register.body!.ID as string)}`, token: "acl-token" });
    expect((await fetch(`${running.url}/hello`)).status).toBe(200);
    await stopping;
    expect(recorded).toHaveLength(2);
  });

  it("fails start-up with the agent's answer when registration is refused", async () => {
    failWith = 403;
    const app = await demoApp();
    await expect(startServer(app, { port: 0, host: "127.0.0.1", probePeriodMs: 0, consul: { agentUrl, service: "demo", address: "127.0.0.1" } })).rejects.toThrow(
      "consul /v1/agent/service/register: 403 Permission denied",
    );
    failWith = undefined;
  });
});

describe("a service's environment decides its registration (serveOptionsFrom)", () => {
  const base: ServeEnv = { PORT: 0, HOST: "127.0.0.1", METRICS_PORT: 9464, SHUTDOWN_PROBE_PERIOD_MS: 0, SHUTDOWN_GRACE_PERIOD_MS: 25_000 };

  it("sends nothing to Consul when CONSUL_HTTP_ADDR is unset", async () => {
    recorded.length = 0;
    const options = serveOptionsFrom("demo", base);
    expect(options).toEqual({ port: 0, host: "127.0.0.1", metricsPort: 9464, probePeriodMs: 0 });
    const running = await startServer(await demoApp(), { ...options, metricsPort: undefined });
    await running.shutdown("test");
    expect(recorded).toEqual([]);
  });

  it("registers under the service's name with its token, address and metrics port when CONSUL_HTTP_ADDR is set", async () => {
    recorded.length = 0;
    const options = serveOptionsFrom("demo", { ...base, CONSUL_HTTP_ADDR: agentUrl, CONSUL_HTTP_TOKEN: "acl-token", CONSUL_SERVICE_ADDRESS: "demo.internal" });
    // The metrics listener itself is not under test: the port only travels as metadata.
    const running = await startServer(await demoApp(), { ...options, metricsPort: undefined });
    await running.shutdown("test");
    expect(recorded[0]).toMatchObject({ url: "/v1/agent/service/register", token: "acl-token", body: { Name: "demo", Address: "demo.internal", Meta: { metrics_port: "9464" } } });
  });

  it("over HTTPS, carries Consul's CA and this workload's client certificate and key into the registration", () => {
    // loadEnv has read CONSUL_CACERT_FILE, CONSUL_CLIENT_CERT_FILE and CONSUL_CLIENT_KEY_FILE: the values are the PEMs.
    const options = serveOptionsFrom("demo", { ...base, CONSUL_HTTP_ADDR: "https://consul:8501", CONSUL_CACERT: "CA PEM", CONSUL_CLIENT_CERT: "CLIENT PEM", CONSUL_CLIENT_KEY: "KEY PEM" });
    expect(options.consul).toMatchObject({ agentUrl: "https://consul:8501", service: "demo", tls: { ca: "CA PEM", cert: "CLIENT PEM", key: "KEY PEM" } });
    // Half a client identity is a start-up error, not a registration without one.
    expect(() => serveOptionsFrom("demo", { ...base, CONSUL_HTTP_ADDR: "https://consul:8501", CONSUL_CLIENT_CERT: "CLIENT PEM" })).toThrow(/CONSUL_CLIENT_CERT_FILE and CONSUL_CLIENT_KEY_FILE: set both or neither/);
  });
});
