// RabbitMQ with exactly the rendered TLS settings (renderRabbitConf), on the real broker of the
// pinned version: the kit's client verifying against the CA gets in over AMQPS and the management
// API answers over HTTPS; plain AMQP and plain HTTP, a client that trusts another CA and a client
// expecting another host name do not.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { brokerModelFor } from "../../components/services/service-broker";
import { renderRabbitConf } from "../../components/broker/rabbitmq-conf";
import { renderDefinitions } from "../../components/broker/rabbitmq-definitions";
import { RabbitNode, startRabbit } from "../../scripts/local-servers/rabbitmq-node";
import { testPki } from "../../scripts/local-servers/shared-test-pki";
import { Messaging } from "../../services/kit/src/messaging";
import { plainExchange, tlsHandshake } from "./tls-probes";

// Generated per run, hex (rabbitmqctl reads a leading "-" as an option).
const PASSWORD = randomBytes(20).toString("hex");
const ADMIN_PASSWORD = randomBytes(20).toString("hex");
const credential = (password: string) => ({ password, saltBase64: "AAECAw==" });

/** AMQP 0-9-1's protocol header: what a plain client sends first. */
const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/** GET over HTTPS, verifying the server against `ca` and `servername`; the status or the error code. */
function httpsGet(port: number, path: string, ca: string, servername: string, auth: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, ca, servername, auth, rejectUnauthorized: true, timeout: 15_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

describe("RabbitMQ with the rendered TLS listeners", () => {
  let node: RabbitNode;
  const pki = testPki();
  const connect = (tls: { ca: string; servername: string }) =>
    Messaging.connect({
      endpoint: { host: "127.0.0.1", port: node.amqpPort, vhost: "fundament", user: "users", password: PASSWORD, tls },
      prefetch: 1,
      connectTimeoutMs: 5_000,
      connectionName: "tls-test",
    });

  beforeAll(async () => {
    const definitions = renderDefinitions({ model: brokerModelFor(["users"], []), services: { users: credential(PASSWORD) }, admin: credential(ADMIN_PASSWORD) });
    node = await startRabbit({ conf: (tls) => renderRabbitConf({ memoryMiB: 512, storageGiB: 4, tls }), definitions });
  }, 180_000);
  afterAll(async () => node?.destroy(), 120_000);

  it("the kit's client, verifying against the platform CA and the name it dials, connects over AMQPS", async () => {
    expect(node.tls).toBe(true);
    const messaging = await connect({ ca: pki.caPem, servername: pki.serverName });
    await messaging.close();
  });

  it("offers TLS 1.3 and 1.2 and refuses 1.1", async () => {
    expect(await tlsHandshake(node.amqpPort, { ca: pki.caPem, servername: pki.serverName })).toEqual({ ok: true, protocol: "TLSv1.3" });
    expect(await tlsHandshake(node.amqpPort, { ca: pki.caPem, servername: pki.serverName, maxVersion: "TLSv1.2" })).toEqual({ ok: true, protocol: "TLSv1.2" });
    expect((await tlsHandshake(node.amqpPort, { ca: pki.caPem, servername: pki.serverName, minVersion: "TLSv1", maxVersion: "TLSv1.1" as "TLSv1.2" })).ok).toBe(false);
  });

  it("refuses plain AMQP: the protocol header gets no connection.start, and no plain listener is open", async () => {
    const { reply, closedByServer } = await plainExchange(node.amqpPort, AMQP_HEADER);
    // A plain listener answers the header with connection.start (method 10,10), which names PLAIN.
    expect(reply).not.toContain("PLAIN");
    expect(closedByServer).toBe(true);
    const listeners = node.ctl(["eval", "[{P, Port} || {listener, _, P, _, _, Port, _} <- rabbit_networking:active_listeners()]."]).replace(/\s/g, "");
    expect(listeners).toContain(`{'amqp/ssl',${node.amqpPort}}`);
    expect(listeners).toContain(`{https,${node.managementPort}}`);
    expect(listeners).not.toMatch(/\{amqp,|\{http,/);
  });

  it("a client trusting another CA refuses the broker", async () => {
    const result = await tlsHandshake(node.amqpPort, { ca: pki.otherCaPem, servername: pki.serverName });
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.code).toMatch(/^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
    await expect(connect({ ca: pki.otherCaPem, servername: pki.serverName })).rejects.toThrow(/could not connect/);
  });

  it("verification fails for a host name the certificate does not carry", async () => {
    expect(await tlsHandshake(node.amqpPort, { ca: pki.caPem, servername: "rabbitmq.elsewhere" })).toEqual({ ok: false, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    await expect(connect({ ca: pki.caPem, servername: "rabbitmq.elsewhere" })).rejects.toThrow(/could not connect/);
  });

  it("management answers over HTTPS verified against the CA, and not in plain HTTP", async () => {
    const auth = `admin:${ADMIN_PASSWORD}`;
    expect(await httpsGet(node.managementPort, "/api/overview", pki.caPem, pki.serverName, auth)).toBe(200);
    expect(await httpsGet(node.managementPort, "/api/overview", pki.otherCaPem, pki.serverName, auth)).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
    expect(await httpsGet(node.managementPort, "/api/overview", pki.caPem, "rabbitmq.elsewhere", auth)).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
    const { reply } = await plainExchange(node.managementPort, "GET /api/overview HTTP/1.1\r\nHost: localhost\r\n\r\n");
    expect(reply).not.toMatch(/^HTTP\/1\.1 [0-9]{3}/);
  });

  it("Prometheus metrics stay plain HTTP inside the monitoring zone", async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${node.prometheusPort}/metrics`)).text();
    expect(metrics).toMatch(/^rabbitmq_identity_info/m);
    // The CA file the clients use is the one the node was given.
    expect(readFileSync(pki.caFile, "utf8")).toBe(pki.caPem);
  });
});
