import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer, request as httpRequest, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listensOn, startOnFreePorts, waitFor } from "../../../../scripts/local-servers/free-port";
import { testPki } from "../../../../scripts/local-servers/shared-test-pki";
import { AUDIENCE, ISSUER, startConfigServers, type ConfigServers } from "./config-servers";
import { startJwksServer } from "./jwks-server";
import { readEventStream } from "./sse-reader";

const serviceDir = join(__dirname, "..", "..");
let servers: ConfigServers;
let bundleDir: string;

/** The service as its image runs it: the esbuild bundle under plain node, configured by env and files. */
function startService(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(bundleDir, "server.js")], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Stands in for the local Consul agent and the OTLP collector: records what the service sends. */
interface Recorded {
  method: string;
  path: string;
  body: string;
}
async function startAgent(users: URL): Promise<{ url: string; calls: Recorded[]; close: () => Promise<void> }> {
  const calls: Recorded[] = [];
  // The service finds the users service's JWKS through the health API: one passing instance,
  // the test's JWKS server, answered as Consul does (an entry per instance, the index in a header).
  const usersInstances = JSON.stringify([
    { Node: { Node: "node-1", Address: "127.0.0.1" }, Service: { ID: "users-1", Service: "users", Address: users.hostname, Port: Number(users.port) }, Checks: [{ Status: "passing" }] },
  ]);
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      calls.push({ method: request.method ?? "", path: request.url ?? "", body });
      if ((request.url ?? "").startsWith("/v1/health/service/users")) {
        // A blocking query past the index parks until its wait runs out; answer it after a while, unchanged.
        const blocking = /[?&]index=([2-9]|\d{2,})/.test(request.url ?? "");
        const answer = () => response.writeHead(200, { "content-type": "application/json", "x-consul-index": "7" }).end(usersInstances);
        if (blocking) setTimeout(answer, 2000).unref();
        else answer();
        return;
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

beforeAll(async () => {
  servers = await startConfigServers({ rabbit: true });
  // Inside the service folder so the bundle's external packages resolve from the workspace's node_modules.
  bundleDir = mkdtempSync(join(serviceDir, ".bundle-test-"));
  const bundled = spawnSync(process.execPath, [join(serviceDir, "scripts", "bundle.mjs"), bundleDir], { encoding: "utf8" });
  expect(bundled.status, bundled.stderr).toBe(0);
});

afterAll(async () => {
  await servers?.stop();
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
});

describe("the bundled service process", () => {
  it("the migration job applies the numbered migrations to an empty database and is idempotent", () => {
    servers.postgres.psql("CREATE DATABASE config_job OWNER config");
    const env = { ...servers.env({ DATABASE_URL: servers.databaseUrl.replace(/\/[^/]+$/, "/config_job") }) } as Record<string, string>;
    const run = () => spawnSync(process.execPath, [join(bundleDir, "migrate.js")], { env: { PATH: process.env.PATH ?? "", ...env, LOG_LEVEL: "info" }, encoding: "utf8" });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("applied 001_config_versions.sql");
    const second = run();
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('"alreadyApplied":1');
    expect(servers.postgres.psql("SELECT count(*) FROM config_versions", "config_job")).toBe("0");
  });

  it("refuses to start on a bad environment, naming every bad variable", async () => {
    const service = startService({ ...(servers.env({ PORT: "http", JWKS_URL: "not a url" }) as Record<string, string>), DATABASE_PASSWORD: "plain" });
    expect(await service.exited).toBe(1);
    expect(service.output()).toContain("PORT: must be an integer");
    expect(service.output()).toContain("JWKS_URL: must be a URL");
    expect(service.output()).toContain("DATABASE_PASSWORD_FILE: is required instead of DATABASE_PASSWORD");
  });

  it("on SIGTERM ends a watch long poll and an event stream that are in flight, and exits 0", async () => {
    const agent = await startAgent(new URL(String(servers.env().JWKS_URL)));
    // On free ports, and on new ones if another test took them first (the harness retries on EADDRINUSE).
    const { service, port, metricsPort } = await startOnFreePorts(2, async ([port, metricsPort]) => {
      const service = startService({
        ...(servers.env() as Record<string, string>),
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        SHUTDOWN_PROBE_PERIOD_MS: "300",
        LOG_LEVEL: "info",
        CONSUL_HTTP_ADDR: agent.url,
        CONSUL_SERVICE_ADDRESS: "127.0.0.1",
        OTEL_EXPORTER_OTLP_ENDPOINT: agent.url,
      });
      try {
        await waitFor("config service ready", async () => {
          if (service.child.exitCode !== null) throw new Error(`exited ${service.child.exitCode}: ${service.output()}`);
          // Its own listener, not whoever holds the port, must answer.
          const pid = service.child.pid;
          return pid !== undefined && listensOn(pid, port) && (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200;
        }, 60_000);
      } catch (error) {
        service.child.kill("SIGKILL");
        await service.exited;
        throw error;
      }
      return { service, port, metricsPort };
    });
    const base = `http://127.0.0.1:${port}`;

    const token = await servers.jwks.sign({ sub: "ops", roles: ["config:write"] });
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    expect((await fetch(`${base}/namespaces/app`, { method: "PUT", headers, body: JSON.stringify({ schema: { type: "object" } }) })).status).toBe(201);
    expect((await fetch(`${base}/namespaces/app/environments/prod`, { method: "PUT", headers, body: JSON.stringify({ document: { n: 1 }, reason: "start" }) })).status).toBe(201);

    const watch = fetch(`${base}/namespaces/app/environments/prod/watch?sinceVersion=1&wait=60s`);
    const stream = await readEventStream(`${base}/namespaces/app/environments/prod/stream`);
    await waitFor("the watch and the stream to park", async () => /config_watches_waiting\{[^}]*\} 2\b/.test(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()));

    service.child.kill("SIGTERM");
    const answered = await watch;
    expect(answered.status).toBe(200);
    // "closing", not "timeout": the shutdown ended the wait, the 60 s did not run out.
    expect(await answered.json()).toEqual({ versions: [], nextSinceVersion: 1, outcome: "closing" });
    await stream.ended;
    expect(stream.events).toEqual([{ id: undefined, event: "closing", data: '{"lastVersion":1}' }]);
    expect(await service.exited).toBe(0);
    expect(service.output()).toContain("shutdown: complete");

    // Registered in Consul with its readiness as the check, deregistered when the shutdown began.
    const registered = agent.calls.find((call) => call.path === "/v1/agent/service/register");
    expect(JSON.parse(registered?.body ?? "{}")).toMatchObject({ Name: "config", Port: port, Address: "127.0.0.1", Check: { HTTP: `http://127.0.0.1:${port}/health/ready` } });
    expect(agent.calls.some((call) => call.method === "PUT" && call.path.startsWith("/v1/agent/service/deregister/"))).toBe(true);
    // Request spans were flushed to the collector on the way out, named by route template.
    const traces = agent.calls.filter((call) => call.path === "/v1/traces").map((call) => call.body).join("\n");
    expect(traces).toContain('"config"');
    expect(traces).toContain("PUT /namespaces/:namespace/environments/:environment");
    await agent.close();
  });
  it("serves HTTPS with its leaf end to end: the JWKS over https against JWKS_CA_FILE, an https Consul check, plain HTTP refused", async () => {
    // The leaf and key as the platform delivers them (the key 0400); the test leaf names "localhost".
    const tlsDir = mkdtempSync(join(tmpdir(), "config-tls-"));
    const pki = testPki();
    const files = pki.filesFor(tlsDir, undefined);
    const leaf = { cert: readFileSync(files.certFile, "utf8"), key: readFileSync(files.keyFile, "utf8") };
    // The users service's JWKS over HTTPS; Consul names its instance by address, the leaf by name.
    const jwks = await startJwksServer({ issuer: ISSUER, audience: AUDIENCE, tls: { ...leaf, host: pki.serverName } });
    const agent = await startAgent(new URL(jwks.url.replace(pki.serverName, "127.0.0.1")));
    /** A request to the service verified against the CA for the leaf's name; resolves status and body. */
    const call = (port: number, method: string, path: string, options: { token?: string; body?: unknown } = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const headers = { ...(options.token ? { authorization: `Bearer ${options.token}` } : {}), ...(options.body ? { "content-type": "application/json" } : {}) };
        const request = httpsRequest({ host: "127.0.0.1", port, method, path, headers, ca: pki.caPem, servername: pki.serverName, agent: false }, (response) => {
          let body = "";
          response.on("data", (chunk: Buffer) => (body += chunk.toString()));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on("error", reject);
        request.end(options.body ? JSON.stringify(options.body) : undefined);
      });
    try {
      const { service, port, metricsPort } = await startOnFreePorts(2, async ([port, metricsPort]) => {
        const service = startService({
          ...(servers.env() as Record<string, string>),
          PORT: String(port),
          METRICS_PORT: String(metricsPort),
          SHUTDOWN_PROBE_PERIOD_MS: "100",
          TLS_CERT_FILE: files.certFile,
          TLS_KEY_FILE: files.keyFile,
          TLS_SERVER_NAME: pki.serverName,
          JWKS_URL: jwks.url,
          JWKS_CA_FILE: files.caFile,
          CONSUL_HTTP_ADDR: agent.url,
          CONSUL_SERVICE_ADDRESS: "127.0.0.1",
        });
        try {
          await waitFor("config service ready over HTTPS", async () => {
            if (service.child.exitCode !== null) throw new Error(`exited ${service.child.exitCode}: ${service.output()}`);
            const pid = service.child.pid;
            return pid !== undefined && listensOn(pid, port) && (await call(port, "GET", "/health/ready").catch(() => ({ status: 0 }))).status === 200;
          }, 60_000);
        } catch (error) {
          service.child.kill("SIGKILL");
          await service.exited;
          throw error;
        }
        return { service, port, metricsPort };
      });

      // A write needs the caller's token verified: the key set came over https, verified for "localhost" at 127.0.0.1.
      const token = await jwks.sign({ sub: "ops", roles: ["config:write"] });
      expect((await call(port, "PUT", "/namespaces/tls", { token, body: { schema: { type: "object" } } })).status).toBe(201);
      expect((await call(port, "PUT", "/namespaces/tls/environments/prod", { token, body: { document: { n: 1 }, reason: "over tls" } })).status).toBe(201);
      const read = await call(port, "GET", "/namespaces/tls/environments/prod", { token });
      expect(read.status).toBe(200);
      expect(read.body).toContain('"n":1');
      expect(jwks.fetches).toBeGreaterThanOrEqual(1);
      // The metrics listener serves the same leaf.
      expect((await call(metricsPort, "GET", "/metrics")).body).toContain("http_request_duration_seconds");
      // Plain HTTP on the TLS port gets no answer.
      const plain = new Promise<number>((resolve, reject) => httpRequest({ host: "127.0.0.1", port, path: "/health/ready", agent: false }, (r) => resolve(r.statusCode ?? 0)).on("error", reject).end());
      await expect(plain).rejects.toThrow(/socket hang up|ECONNRESET/);

      // Consul polls readiness over https, verifying the leaf's name (the check dials an address).
      const registered = agent.calls.find((c) => c.path === "/v1/agent/service/register");
      expect(JSON.parse(registered?.body ?? "{}")).toMatchObject({ Name: "config", Check: { HTTP: `https://127.0.0.1:${port}/health/ready`, TLSServerName: pki.serverName } });

      service.child.kill("SIGTERM");
      expect(await service.exited).toBe(0);
    } finally {
      await agent.close();
      await jwks.close();
      rmSync(tlsDir, { recursive: true, force: true });
    }
  });
});
