import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCa, type TestCa, type TestLeaf } from "../../../scripts/local-servers/test-pki";
import { EnvError, loadEnv } from "../src/env";
import { createLogger } from "../src/logger";
import { serveOptionsFrom, startServer, type RunningServer, type ServeEnv } from "../src/serve";
import { serverTlsEnv } from "../src/server-tls";
import { createService } from "../src/service";
import { createJwksVerifier } from "../src/token-verifier";

// A service given its leaf serves HTTPS on both of its listeners: clients that verify against the
// CA connect under the names the leaf carries, and nothing else gets an answer.
let ca: TestCa;
let other: TestCa;
let leaf: TestLeaf;
let running: RunningServer;
let dir: string;

beforeAll(async () => {
  ca = createTestCa("serve-https test CA");
  other = createTestCa("serve-https other CA");
  leaf = ca.leaf("demo", ["demo", "localhost"]);
  dir = mkdtempSync(join(tmpdir(), "serve-https-"));
  const app = await createService({ name: "demo", logger: createLogger({ service: "demo", level: "silent" }) });
  app.get("/hello", async () => ({ hello: "over tls" }));
  running = await startServer(app, { port: 0, host: "127.0.0.1", metricsPort: 0, probePeriodMs: 0, tls: { cert: leaf.certPem, key: leaf.keyPem } });
});

afterAll(async () => {
  await running?.shutdown("test done");
  ca?.remove();
  other?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: string;
}

/** GET over HTTPS to the loopback address, verifying the certificate for `servername` against `caPem`. */
function getTls(url: string, caPem: string, servername: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, { ca: caPem, servername, agent: false }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

function getPlain(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { agent: false }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

const port = (url: string) => new URL(url).port;

describe("a service with a leaf serves HTTPS", () => {
  it("answers a client that verifies against the CA, under a name the leaf carries, on the API and metrics listeners", async () => {
    expect(running.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(running.metricsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const hello = await getTls(`https://127.0.0.1:${port(running.url)}/hello`, ca.caPem, "demo");
    expect(hello).toEqual({ status: 200, body: JSON.stringify({ hello: "over tls" }) });
    expect((await getTls(`https://127.0.0.1:${port(running.url)}/health/ready`, ca.caPem, "localhost")).status).toBe(200);
    const metrics = await getTls(running.metricsUrl!, ca.caPem, "demo");
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('http_request_duration_seconds_count{service="demo",method="GET",route="/hello",status_class="2xx"} 1');
  });

  it("gives plain HTTP on either TLS port no answer", async () => {
    await expect(getPlain(`http://127.0.0.1:${port(running.url)}/hello`)).rejects.toThrow(/socket hang up|ECONNRESET/);
    await expect(getPlain(`http://127.0.0.1:${port(running.metricsUrl!)}/metrics`)).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it("is refused by a client dialling a name the leaf does not carry", async () => {
    await expect(getTls(`https://127.0.0.1:${port(running.url)}/hello`, ca.caPem, "users")).rejects.toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  });

  it("is refused by a client that trusts another CA", async () => {
    await expect(getTls(`https://127.0.0.1:${port(running.url)}/hello`, other.caPem, "demo")).rejects.toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  });
});

describe("shutdown of an HTTPS service", () => {
  // Longer than Fastify's 10 s hook timeout (pluginTimeout): a drain that waited in a preClose hook
  // would be cut there and the closers would run under the request (seen with 200 argon2 logins).
  it("lets a request in flight on the TLS listener finish before the closers end its dependencies, however long it takes", async () => {
    const events: string[] = [];
    const app = await createService({ name: "slow", logger: createLogger({ service: "slow", level: "silent" }), closers: [async () => void events.push("closers ran")] });
    app.get("/slow", async () => {
      await new Promise((resolve) => setTimeout(resolve, 10_500));
      events.push("request done");
      return { ok: true };
    });
    const served = await startServer(app, { port: 0, host: "127.0.0.1", probePeriodMs: 0, tls: { cert: leaf.certPem, key: leaf.keyPem } });
    const inFlight = getTls(`https://127.0.0.1:${port(served.url)}/slow`, ca.caPem, "demo");
    await new Promise((resolve) => setTimeout(resolve, 150));
    await served.shutdown("test");
    expect(await inFlight).toEqual({ status: 200, body: JSON.stringify({ ok: true }) });
    expect(events).toEqual(["request done", "closers ran"]);
    // Closed: the port no longer accepts.
    await expect(getTls(`https://127.0.0.1:${port(served.url)}/slow`, ca.caPem, "demo")).rejects.toMatchObject({ code: "ECONNREFUSED" });
  }, 60_000);
});

describe("the TLS variables (TLS_CERT_FILE, TLS_KEY_FILE)", () => {
  const base: ServeEnv = { PORT: 0, HOST: "127.0.0.1", METRICS_PORT: 0, SHUTDOWN_PROBE_PERIOD_MS: 0, SHUTDOWN_GRACE_PERIOD_MS: 25_000 };

  it("serve HTTPS when both files are given, and Consul's check then polls https verifying the service's name", () => {
    const certFile = join(dir, "tls.crt");
    const keyFile = join(dir, "tls.key");
    writeFileSync(certFile, leaf.certPem);
    writeFileSync(keyFile, leaf.keyPem, { mode: 0o400 });
    const values = loadEnv(serverTlsEnv, { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile });
    expect(values).toMatchObject({ TLS_CERT: leaf.certPem.trimEnd(), TLS_KEY: leaf.keyPem.trimEnd() });
    const options = serveOptionsFrom("demo", { ...base, ...values });
    expect(options.tls).toEqual({ cert: values.TLS_CERT, key: values.TLS_KEY });
    expect(options.tlsServerName).toBe("demo");
    expect(serveOptionsFrom("demo", { ...base, ...values, TLS_SERVER_NAME: "demo.fundament.svc" }).tlsServerName).toBe("demo.fundament.svc");
    // Neither: plain HTTP, for local runs and tests.
    expect(serveOptionsFrom("demo", base).tls).toBeUndefined();
  });

  it("refuse one of the pair without the other, naming the missing one", () => {
    const certFile = join(dir, "only.crt");
    writeFileSync(certFile, leaf.certPem);
    const keyFile = join(dir, "only.key");
    writeFileSync(keyFile, leaf.keyPem, { mode: 0o400 });
    expect(() => loadEnv(serverTlsEnv, { TLS_CERT_FILE: certFile })).toThrow(new EnvError(["TLS_KEY_FILE: is required when TLS_CERT_FILE is set; set both or neither"]));
    expect(() => loadEnv(serverTlsEnv, { TLS_KEY_FILE: keyFile })).toThrow(new EnvError(["TLS_CERT_FILE: is required when TLS_KEY_FILE is set; set both or neither"]));
    // The key is a secret: never inline in the environment.
    expect(() => loadEnv(serverTlsEnv, { TLS_CERT_FILE: certFile, TLS_KEY: leaf.keyPem })).toThrow(/TLS_KEY_FILE: is required instead of TLS_KEY/);
    expect(() => serveOptionsFrom("demo", { ...base, TLS_CERT: leaf.certPem })).toThrow(/TLS_KEY_FILE: is required when TLS_CERT_FILE is set/);
  });

  it("refuse a certificate file that holds no certificate, without echoing it", () => {
    const keyFile = join(dir, "swapped.key");
    writeFileSync(keyFile, leaf.keyPem, { mode: 0o400 });
    const error = (() => {
      try {
        loadEnv(serverTlsEnv, { TLS_CERT_FILE: keyFile, TLS_KEY_FILE: keyFile });
      } catch (caught) {
        return caught as EnvError;
      }
      throw new Error("loadEnv accepted a key as the certificate");
    })();
    expect(error.problems).toEqual(["TLS_CERT: must hold a PEM certificate (-----BEGIN CERTIFICATE-----)"]);
    expect(error.message).not.toContain("PRIVATE KEY");
  });
});

describe("Consul registration of an HTTPS service", () => {
  it("asks the agent for an https check of /health/ready that verifies the service's name", async () => {
    const bodies: Record<string, unknown>[] = [];
    const agent = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        if (request.url === "/v1/agent/service/register") bodies.push(JSON.parse(text) as Record<string, unknown>);
        response.writeHead(200).end("");
      });
    });
    await new Promise<void>((resolve) => agent.listen(0, "127.0.0.1", resolve));
    try {
      const app = await createService({ name: "demo", logger: createLogger({ service: "demo", level: "silent" }) });
      const options = serveOptionsFrom("demo", {
        PORT: 0,
        HOST: "127.0.0.1",
        METRICS_PORT: 0,
        SHUTDOWN_PROBE_PERIOD_MS: 0,
        SHUTDOWN_GRACE_PERIOD_MS: 25_000,
        CONSUL_HTTP_ADDR: `http://127.0.0.1:${(agent.address() as AddressInfo).port}`,
        CONSUL_SERVICE_ADDRESS: "10.0.0.7",
        TLS_CERT: leaf.certPem,
        TLS_KEY: leaf.keyPem,
      });
      const served = await startServer(app, { ...options, metricsPort: undefined });
      await served.shutdown("test done");
      expect(bodies[0]).toMatchObject({ Name: "demo", Check: { HTTP: `https://10.0.0.7:${port(served.url)}/health/ready`, TLSServerName: "demo" } });
    } finally {
      await new Promise<void>((resolve) => agent.close(() => resolve()));
    }
  });
});

describe("the JWKS over HTTPS (JWKS_CA_FILE)", () => {
  it("fetches the key set from the TLS listener, verifying the URL's host name against the CA, also when discovery names an address", async () => {
    const jose = await import("jose");
    const { privateKey, publicKey } = await jose.generateKeyPair("ES256");
    const jwk = { ...(await jose.exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    const app = await createService({ name: "jwks", logger: createLogger({ service: "jwks", level: "silent" }) });
    let fetched = 0;
    app.get("/.well-known/jwks.json", async () => {
      fetched += 1;
      return { keys: [jwk] };
    });
    const users = await startServer(app, { port: 0, host: "127.0.0.1", probePeriodMs: 0, tls: { cert: leaf.certPem, key: leaf.keyPem } });
    try {
      const token = await new jose.SignJWT({ roles: ["reader"] }).setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" }).setSubject("u1").setExpirationTime("5m").sign(privateKey);
      const jwksUrl = `https://demo:${port(users.url)}/.well-known/jwks.json`;
      // "demo" resolves nowhere here: the address comes from discovery, the name from JWKS_URL.
      const resolveJwksUrl = async () => `https://127.0.0.1:${port(users.url)}/.well-known/jwks.json`;
      const verifier = await createJwksVerifier({ jwksUrl, resolveJwksUrl, ca: ca.caPem });
      await expect(verifier.verify(token)).resolves.toEqual({ subject: "u1", roles: ["reader"] });
      expect(fetched).toBe(1);
      // Trusting another CA, the key set is never had: the token cannot be judged (not a 401).
      const distrustful = await createJwksVerifier({ jwksUrl, resolveJwksUrl, ca: other.caPem });
      await expect(distrustful.verify(token)).rejects.toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
      // A name the leaf does not carry is refused the same way.
      const misnamed = await createJwksVerifier({ jwksUrl: jwksUrl.replace("demo", "users"), resolveJwksUrl, ca: ca.caPem });
      await expect(misnamed.verify(token)).rejects.toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
      expect(fetched).toBe(1);
      await expect(createJwksVerifier({ jwksUrl: "http://demo:8080/.well-known/jwks.json", ca: ca.caPem })).rejects.toThrow(/JWKS_URL: a CA is given \(JWKS_CA_FILE\) but http:\/\/ is plain text; use https:\/\//);
    } finally {
      await users.shutdown("test done");
    }
  });
});
