import { spawn } from "node:child_process";
import { createServer as createHttpsServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type TestCa } from "../../scripts/local-servers/test-pki";
import { factsForImage, imageRepository, NODE_SERVICE_IMAGE_FACTS } from "../../components/runtime/image-facts";
import { dockerHealthTest } from "../../components/runtime/probe-command";
import { readStackConfig } from "../../scripts/mock-engine";
import { runStack, StackView } from "./stack-run";

const CONTAINER = "docker:index/container:Container";

describe("Docker healthchecks use only programs the pinned image ships", () => {
  let dev: StackView;
  beforeAll(async () => {
    dev = await runStack("dev");
  });

  /** The image reference behind a container: its RemoteImage's name, or the stack-built service image. */
  function imageOf(name: string): string | undefined {
    const remote = dev.all("docker:index/remoteImage:RemoteImage").find((image) => image.name === `${name}-image`);
    return remote ? (dev.revealed(remote).name as string) : undefined;
  }

  it("runs every probe program directly (no shell it does not name) and finds it in the image", () => {
    const probed = dev.all(CONTAINER).filter((c) => dev.revealed(c).healthcheck !== undefined);
    expect(probed.length).toBeGreaterThanOrEqual(10);
    for (const container of probed) {
      const [form, program] = (dev.revealed(container).healthcheck as { tests: string[] }).tests;
      expect(form, container.name).toBe("CMD");
      const image = imageOf(container.name);
      const facts = image === undefined ? NODE_SERVICE_IMAGE_FACTS : factsForImage(image);
      expect(facts?.programs, `${container.name} (${image ?? "service image"}) runs ${program}`).toContain(program);
    }
  });

  it("probes PgBouncer, whose Alpine image has no bash, with its own pg_isready", () => {
    const tests = (dev.revealed(dev.one(CONTAINER, "pgbouncer")).healthcheck as { tests: string[] }).tests;
    expect(tests).toEqual(["CMD", "pg_isready", "-q", "-h", "127.0.0.1", "-p", "6432", "-d", "pgbouncer"]);
    expect(factsForImage("edoburu/pgbouncer:v1.24.1-p1")?.programs).not.toContain("bash");
  });

  // The mock engine once hung here: the gateway, registered before the layer that throws, waits
  // on routes that are never rendered. The CLI's node exits once its loop is empty; the mock
  // engine now ends a failed run the same way (scripts/mock-engine.ts, quiescent).
  it("fails the program when a workload's image has no recorded facts, naming workload and image", async () => {
    const base = readStackConfig("dev");
    const redis = { ...(JSON.parse(base["fundament:redis"] ?? "{}") as Record<string, unknown>), image: "registry.example/acme/keyvalue:1.0" };
    const config = { ...base, "fundament:redis": JSON.stringify(redis) };
    const failure = await runStack("dev", config).then(
      () => undefined,
      (error: unknown) => error as Error & { registered: { type: string; name: string }[] },
    );
    expect(failure?.message).toMatch(/workload redis: image registry\.example\/acme\/keyvalue:1\.0 has no entry in components\/runtime\/image-facts\.ts/);
  }, 120_000); // a whole dev program through the mock engine: slow on a loaded machine
});

describe("dockerHealthTest", () => {
  const pgbouncer = { workload: "pgbouncer", image: "edoburu/pgbouncer:v1.24.1-p1", facts: factsForImage("edoburu/pgbouncer:v1.24.1-p1")! };

  it("refuses a tcp probe in an image without bash, naming the workload, the image and what it has", () => {
    expect(() => dockerHealthTest({ kind: "tcp", port: 6432 }, pgbouncer)).toThrow(
      /workload pgbouncer: its tcp probe needs bash \(for \/dev\/tcp\), which image edoburu\/pgbouncer:v1\.24\.1-p1 does not ship \(it has: sh, wget, pg_isready, psql/,
    );
  });

  it("refuses an exec probe whose program the image lacks", () => {
    expect(() => dockerHealthTest({ kind: "exec", command: ["curl", "-f", "http://127.0.0.1/"] }, pgbouncer)).toThrow(/workload pgbouncer: its exec probe needs curl/);
  });

  it("picks the HTTP client the image has: wget, then curl, then node", () => {
    const http = { kind: "http" as const, port: 9000, path: "/minio/health/ready" };
    expect(dockerHealthTest(http, { workload: "exporter", image: "x", facts: factsForImage("quay.io/prometheuscommunity/postgres-exporter:v0.17.1")! })).toEqual([
      "CMD",
      "wget",
      "-q",
      "-O",
      "/dev/null",
      "http://127.0.0.1:9000/minio/health/ready",
    ]);
    expect(dockerHealthTest(http, { workload: "minio", image: "x", facts: factsForImage("quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z")! })[1]).toBe("curl");
    expect(dockerHealthTest(http, { workload: "users", image: "x", facts: NODE_SERVICE_IMAGE_FACTS })[1]).toBe("node");
    expect(() => dockerHealthTest(http, { workload: "mongo-exporter", image: "percona/mongodb_exporter:0.44.0", facts: factsForImage("percona/mongodb_exporter:0.44.0")! })).toThrow(
      /no shell or client at all/,
    );
  });

  describe("an HTTPS probe (the services' listeners serve their leaf only)", () => {
    let ca: TestCa;
    let other: TestCa;
    let server: Server;
    let port: number;
    let status = 200;
    beforeAll(async () => {
      ca = createTestCa("probe test CA");
      other = createTestCa("probe other CA");
      const leaf = ca.leaf("users", ["users"]);
      server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_request, response) => response.writeHead(status).end());
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      ca.remove();
      other.remove();
    });

    /** Runs the healthcheck's command as Docker would inside the container (exec form), resolving its exit code. */
    const run = (tests: string[]): Promise<number | null> => {
      const [form, program, ...args] = tests;
      expect(form).toBe("CMD");
      // Not spawnSync: the server answering the probe runs in this process's event loop.
      const child = spawn(program === "node" ? process.execPath : program, args, { stdio: "ignore", timeout: 20_000 });
      return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    };
    const probe = (caFile: string, serverName: string) => ({ kind: "http" as const, port, path: "/health/ready", https: { caFile, serverName } });
    const users = { workload: "users", image: "x", facts: NODE_SERVICE_IMAGE_FACTS };

    it("with node, is healthy only when the leaf verifies against the CA for the service's name and the answer is 2xx", async () => {
      status = 200;
      expect(await run(dockerHealthTest(probe(ca.caPath, "users"), users))).toBe(0);
      expect(await run(dockerHealthTest(probe(other.caPath, "users"), users))).toBe(1);
      expect(await run(dockerHealthTest(probe(ca.caPath, "config"), users))).toBe(1);
      status = 503;
      expect(await run(dockerHealthTest(probe(ca.caPath, "users"), users))).toBe(1);
      status = 200;
    });

    it("with curl, pins the service's name to the loopback address and verifies against the CA file", () => {
      const tests = dockerHealthTest(probe("/etc/fundament/tls/ca.crt", "users"), { workload: "minio", image: "x", facts: factsForImage("quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z")! });
      expect(tests).toEqual(["CMD", "curl", "-fsS", "-o", "/dev/null", "--cacert", "/etc/fundament/tls/ca.crt", "--resolve", `users:${port}:127.0.0.1`, `https://users:${port}/health/ready`]);
    });

    it("refuses an image with only wget, which cannot be given the CA", () => {
      const exporter = { workload: "exporter", image: "x", facts: factsForImage("quay.io/prometheuscommunity/postgres-exporter:v0.17.1")! };
      expect(() => dockerHealthTest(probe("/ca.crt", "users"), exporter)).toThrow(/workload exporter: its http probe needs curl or node \(to verify the server against its CA\)/);
    });
  });

  it("matches a pinned image by repository, whatever registry mirrors it", () => {
    expect(imageRepository("quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z")).toBe("minio/minio");
    expect(imageRepository("docker.io/library/redis:7.4.5-bookworm")).toBe("redis");
    expect(imageRepository("mirror.internal:5000/edoburu/pgbouncer:v1.24.1-p1@sha256:abc")).toBe("edoburu/pgbouncer");
  });
});
