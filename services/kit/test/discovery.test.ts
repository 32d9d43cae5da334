import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDiscovery, nextIndex, type Discovery } from "../src/discovery";
import { startFakeConsul, type FakeConsul } from "./fake-consul";

const TOKEN = "config-token";
let consul: FakeConsul;
let discovery: Discovery | undefined;

beforeEach(async () => {
  consul = await startFakeConsul({ tokens: { [TOKEN]: { write: ["config"], read: ["users"] }, "demo-token": { write: ["demo"], read: [] } } });
});
afterEach(async () => {
  discovery?.close();
  discovery = undefined;
  await consul.close();
});

const users = (id: string, address: string) => ({ ID: id, Name: "users", Address: address, Port: 8080, Tags: ["v1"] });
const fallback = { users: { host: "users", port: 8080 } };

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const healthCalls = () => consul.recorded.filter((r) => r.path === "/v1/health/service/users");

describe("discover()", () => {
  it("returns the passing instances only, from the health API with the token", async () => {
    consul.add(users("users-a", "10.1.0.1"), "passing");
    consul.add(users("users-b", "10.1.0.2"), "critical");
    discovery = createDiscovery({ consul: { url: consul.url, token: TOKEN }, fallback });
    const found = await discovery.discover("users");
    expect(found.map((i) => `${i.id} ${i.address}:${i.port}`)).toEqual(["users-a 10.1.0.1:8080"]);
    expect(healthCalls()[0]).toMatchObject({ token: TOKEN });
    expect(healthCalls()[0].query.get("passing")).toBe("true");
    // The first read does not block: no index yet.
    expect(healthCalls()[0].query.has("index")).toBe(false);
  });

  it("keeps the cache current with blocking queries: a change arrives without polling", async () => {
    consul.add(users("users-a", "10.1.0.1"), "passing");
    consul.add(users("users-b", "10.1.0.2"), "passing");
    discovery = createDiscovery({ consul: { url: consul.url, token: TOKEN }, fallback, waitSeconds: 30 });
    expect((await discovery.discover("users")).map((i) => i.id)).toEqual(["users-a", "users-b"]);
    await until(() => healthCalls().length >= 2);
    const blocking = healthCalls()[1];
    expect(blocking.query.get("index")).toBe(String(consul.index()));
    expect(blocking.query.get("wait")).toBe("30s");

    consul.setStatus("users-b", "critical");
    await until(async () => (await discovery!.discover("users")).length === 1);
    expect((await discovery.discover("users")).map((i) => i.id)).toEqual(["users-a"]);
    // One answer per change, no polling in between: the initial read, the blocked query the change released, the next blocked one.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(healthCalls().length).toBeLessThanOrEqual(3);
    // Repeated calls are served from the cache.
    for (let i = 0; i < 20; i++) await discovery.discover("users");
    expect(healthCalls().length).toBeLessThanOrEqual(3);
  });

  it("resets the index to 0 when Consul's index goes backwards, and uses 1 for an index below 1", async () => {
    expect(nextIndex(0, 42)).toBe(42);
    expect(nextIndex(42, 42)).toBe(42);
    expect(nextIndex(42, 17)).toBe(0);
    expect(nextIndex(42, 0)).toBe(1);
    expect(nextIndex(0, Number.NaN)).toBe(1);

    consul.add(users("users-a", "10.1.0.1"), "passing");
    discovery = createDiscovery({ consul: { url: consul.url, token: TOKEN }, fallback, waitSeconds: 30, minIntervalMs: 0 });
    await discovery.discover("users");
    await until(() => healthCalls().length >= 2);
    const before = Number(healthCalls()[1].query.get("index"));
    // Another server answers with a lower index (a restored snapshot): the next read starts over.
    consul.reportIndex(3);
    consul.add(users("users-c", "10.1.0.3"), "passing");
    await until(() => healthCalls().some((call) => !call.query.has("index") && call !== healthCalls()[0]));
    const reset = healthCalls().findIndex((call, i) => i > 0 && !call.query.has("index"));
    expect(before).toBeGreaterThan(3);
    expect(reset).toBeGreaterThan(1);
    // After the reset it blocks on the new index.
    await until(() => healthCalls().length > reset + 1);
    expect(healthCalls()[reset + 1].query.get("index")).toBe("3");

    // An index of 0 would turn every blocking query into a busy loop: it blocks on 1 instead.
    consul.reportIndex(0);
    consul.add(users("users-d", "10.1.0.4"), "passing");
    await until(() => healthCalls().some((call) => call.query.get("index") === "1"));
    expect((await discovery.discover("users")).map((i) => i.id)).toEqual(["users-a", "users-c", "users-d"]);
  });

  it("merges the same address and port registered on several servers into one instance", async () => {
    consul.add(users("users", "10.1.0.9"), "passing", "consul-0");
    consul.add({ ...users("users", "10.1.0.9"), ID: "users-copy" }, "passing", "consul-2");
    discovery = createDiscovery({ consul: { url: consul.url, token: TOKEN }, fallback });
    expect(await discovery.discover("users")).toHaveLength(1);
  });

  it("keeps the last answer while Consul is down, and refuses when it never answered", async () => {
    consul.add(users("users-a", "10.1.0.1"), "passing");
    const errors: string[] = [];
    discovery = createDiscovery({ consul: { url: consul.url, token: TOKEN }, fallback, waitSeconds: 1, retryMs: 50, onError: (service) => errors.push(service) });
    await discovery.discover("users");
    await consul.close();
    await until(() => errors.length > 0, 8000);
    expect((await discovery.discover("users")).map((i) => i.id)).toEqual(["users-a"]);
    discovery.close();

    discovery = createDiscovery({ consul: { url: consul.url, token: TOKEN }, fallback });
    await expect(discovery.discover("users")).rejects.toThrow(/ECONNREFUSED/);
    consul = await startFakeConsul({ tokens: {} });
  });

  it("falls back to the workload's DNS name when Consul is not configured", async () => {
    discovery = createDiscovery({ fallback });
    expect(await discovery.discover("users")).toEqual([{ id: "users-dns", address: "users", port: 8080, tags: [], meta: {} }]);
    await expect(discovery.discover("billing")).rejects.toThrow('discover: unknown service "billing" (known: users)');
    expect(consul.recorded).toEqual([]);
  });

  it("sees nothing its token may not read (default deny)", async () => {
    consul.add(users("users-a", "10.1.0.1"), "passing");
    discovery = createDiscovery({ consul: { url: consul.url, token: "demo-token" }, fallback });
    expect(await discovery.discover("users")).toEqual([]);
  });
});

describe("registration of a real service process", () => {
  it("registers on ready with a check that passes, and deregisters on SIGTERM before it exits 0", async () => {
    const fixture = join(__dirname, "fixtures", "serve-with-consul.ts");
    const child = spawn(process.execPath, ["--import", "tsx", fixture], {
      cwd: join(__dirname, "..", "..", ".."),
      env: { PATH: process.env.PATH ?? "", CONSUL_HTTP_ADDR: consul.url, CONSUL_TOKEN: "demo-token" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      // Start-up under tsx is slow on a loaded machine; the output says why it failed, if it does.
      await until(() => output.includes("listening") || child.exitCode !== null, 90_000).catch(() => undefined);
      expect(output).toContain("listening");
      const [registered] = consul.registered();
      expect(registered).toMatch(/^demo-/);
      const register = consul.recorded.find((r) => r.path === "/v1/agent/service/register")!;
      expect(register).toMatchObject({ method: "PUT", token: "demo-token" });
      // The check Consul runs passes against the live process: it is in the catalogue as passing.
      await consul.runChecks();
      const viewer = createDiscovery({ consul: { url: consul.url, token: "demo-token" }, fallback: {} });
      expect((await viewer.discover("demo")).map((i) => i.id)).toEqual([registered]);
      viewer.close();

      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const deregister = consul.recorded.find((r) => r.path.startsWith("/v1/agent/service/deregister/"));
      expect(deregister).toMatchObject({ method: "PUT", path: `/v1/agent/service/deregister/${registered}`, token: "demo-token" });
      expect(consul.registered()).toEqual([]);
    } finally {
      child.kill("SIGKILL");
    }
  }, 150_000);
});
