/*
 * The RabbitMQ component through Pulumi's mock engine, against a runtime that records the Workload
 * it is handed (the component never talks to Docker or Kubernetes). The rabbitmq.conf and
 * definitions.json it hands over are then booted by a real RabbitMQ node, and the connection
 * outputs are used to log in: what the component would deploy is what is tested.
 */
import * as pulumi from "@pulumi/pulumi";
import { connect } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AmqpConnection, RABBITMQ_CONF_PATH, RabbitMQ, RabbitMQArgs } from "../../components/broker/rabbitmq";
import { ERLANG_COOKIE_SECRET_PATH } from "../../components/broker/rabbitmq-start";
import { DEFINITIONS_PATH } from "../../components/broker/rabbitmq-conf";
import { Runtime, Workload } from "../../components/runtime/workload";
import { PlatformPki } from "../../components/pki";
import { RABBITMQ_TLS_PATHS } from "../../components/broker/rabbitmq";
import { testPki } from "../../scripts/local-servers/shared-test-pki";
import { RabbitNode, startRabbit } from "../../scripts/local-servers/rabbitmq-node";
import { TEST_MODEL } from "../../services/kit/test/messaging/broker-node";
import { ComponentMocks, mockComponentEngine } from "./component-mocks";
import { RecordingRuntime, settled } from "./recording-runtime";

let registered: ComponentMocks["registered"] = [];
let generatedSecrets = new Set<string>();

beforeAll(async () => {
  ({ registered, generatedSecrets } = await mockComponentEngine());
});



let pki: PlatformPki | undefined;

const args = (runtime: Runtime): RabbitMQArgs => ({
  pki: (pki ??= new PlatformPki("pki", { naming: { target: "kubernetes", namespace: "fundament" }, settings: { caValidityHours: 87_600, validityHours: 8_760, earlyRenewalHours: 720 } })),
  runtime,
  image: "rabbitmq:4.1.6-management",
  resources: { cpu: 1, memoryMiB: 1024 },
  storageGiB: 8,
  model: TEST_MODEL,
  managementHost: "rabbitmq.dev.localhost",
});

const tlsOptions = () => ({ ca: testPki().caPem, servername: testPki().serverName });

function file(workload: Workload, path: string): NonNullable<Workload["files"]>[number] {
  const found = workload.files?.find((candidate) => candidate.path === path);
  if (!found) throw new Error(`${workload.name} has no file ${path}`);
  return found;
}

describe("RabbitMQ component", () => {
  const runtime = new RecordingRuntime("kubernetes", (name) => `${name}.fundament.svc`);
  let component: RabbitMQ;
  let workload: Workload;

  beforeAll(() => {
    component = new RabbitMQ("rabbitmq", args(runtime));
    workload = runtime.deployed[0] as Workload;
  });

  it("generates credentials for the admin and every service, named after the component", async () => {
    // The mock engine registers resources asynchronously: wait for everything the outputs depend on.
    await settled(file(workload, DEFINITIONS_PATH).content);
    await settled(file(workload, ERLANG_COOKIE_SECRET_PATH).content);
    const passwords = registered.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => r.name);
    expect(passwords.sort()).toEqual(["rabbitmq-admin-password", "rabbitmq-auditor-password", "rabbitmq-billing-password", "rabbitmq-erlang-cookie", "rabbitmq-mailer-password", "rabbitmq-users-password"]);
    expect(registered.filter((r) => r.type === "random:index/randomBytes:RandomBytes")).toHaveLength(5);
  });

  it("asks for a node in backend and monitoring, publishing nothing on the host", () => {
    expect(runtime.deployed).toHaveLength(1);
    expect(workload.image).toBe("rabbitmq:4.1.6-management");
    expect(workload.zones).toEqual(["backend", "monitoring"]);
    expect(workload.ports.filter((port) => port.publish === "host")).toEqual([]);
    expect(workload.ports.map((port) => port.port).sort((a, b) => a - b)).toEqual([5671, 15671, 15692]);
    expect(workload.metrics).toEqual({ port: 15692, path: "/metrics" });
    // The gateway reaches management over HTTPS and verifies it against the platform CA.
    expect(workload.route).toMatchObject({ host: "rabbitmq.dev.localhost", port: "management", basicAuth: true, tls: true });
    // Every route is rate limited at the gateway; an admin UI also sits behind basic auth.
    expect(workload.route?.rateLimit?.averagePerSecond).toBeGreaterThan(0);
    expect(workload.storage).toEqual([{ name: "data", path: "/var/lib/rabbitmq", sizeGiB: 8 }]);
    expect(workload.resources).toEqual({ cpu: 1, memoryMiB: 1024 });
    expect(workload.user).toEqual({ uid: 999, gid: 999 });
    expect(workload.command?.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(workload.command?.[2]).toContain(ERLANG_COOKIE_SECRET_PATH);
    expect(workload.env).toEqual({ RABBITMQ_LOG_BASE: "/var/lib/rabbitmq/log" });
  });

  it("checks health with port probes on the AMQPS listener, never with the CLI that can hang under load", () => {
    expect(workload.health.readiness).toMatchObject({ kind: "tcp", port: 5671 });
    expect(workload.health.liveness).toMatchObject({ kind: "tcp", port: 5671 });
    const liveness = workload.health.liveness;
    expect((liveness.periodSeconds ?? 10) * (liveness.failureThreshold ?? 3)).toBeGreaterThanOrEqual(120);
  });

  it("hands definitions and the Erlang cookie over as secret files, the cookie owner-only", async () => {
    const definitions = file(workload, DEFINITIONS_PATH);
    const cookie = file(workload, ERLANG_COOKIE_SECRET_PATH);
    expect(definitions.secret).toBe(true);
    expect(await pulumi.isSecret(pulumi.output(definitions.content))).toBe(true);
    expect(cookie).toMatchObject({ secret: true, mode: 0o600 });
    expect(file(workload, RABBITMQ_CONF_PATH).secret).toBeFalsy();
    const text = await settled(definitions.content);
    for (const secret of generatedSecrets) expect(text).not.toContain(secret);
    for (const value of Object.values(workload.env ?? {})) {
      const plain = await settled(value);
      for (const secret of generatedSecrets) expect(plain).not.toContain(secret);
    }
  });

  it("outputs a secret AMQP connection per service, each its own user", async () => {
    expect(Object.keys(component.connections).sort()).toEqual(["auditor", "billing", "mailer", "users"]);
    for (const [service, output] of Object.entries(component.connections)) {
      expect(await pulumi.isSecret(output)).toBe(true);
      const connection: AmqpConnection = await settled(output);
      expect(connection).toMatchObject({ host: "rabbitmq.fundament.svc", port: 5671, vhost: "fundament", user: service });
      expect(generatedSecrets.has(connection.password)).toBe(true);
    }
    expect(await pulumi.isSecret(component.adminPassword)).toBe(true);
  });

  it("refuses bad arguments before registering anything, naming every problem", () => {
    const before = registered.length;
    const bad = { ...args(new RecordingRuntime("kubernetes", (name) => `${name}.fundament.svc`)), image: "rabbitmq:latest", storageGiB: 0, resources: { cpu: 1, memoryMiB: 128 }, model: { services: [], queues: [{ name: "Q", routingKeys: ["a"], consumers: ["x"] }] } };
    expect(() => new RabbitMQ("bad", bad)).toThrow(
      [
        "bad: invalid RabbitMQ arguments:",
        'fundament:rabbitmq.queues[0].name: must match ^[a-z][a-z0-9.-]*$ (got "Q")',
        'fundament:rabbitmq.queues[0].consumers[0]: unknown service "x" (services: none declared)',
        'fundament:rabbitmq.image: must not use the moving tag latest (got "rabbitmq:latest")',
        "fundament:rabbitmq.memoryMiB: must be an integer of at least 256 (got 128)",
        "fundament:rabbitmq.storageGiB: must be an integer of at least 1 (got 0)",
      ].join("\n"),
    );
    expect(registered.length).toBe(before);
  });

  it("delivers the node its platform leaf (the key a secret file only rabbitmq reads) and every connection the CA", async () => {
    expect(file(workload, RABBITMQ_TLS_PATHS.key)).toMatchObject({ secret: true, mode: 0o400 });
    expect(await pulumi.isSecret(pulumi.output(file(workload, RABBITMQ_TLS_PATHS.key).content))).toBe(true);
    expect(file(workload, RABBITMQ_TLS_PATHS.cert).secret).toBeFalsy();
    const ca = await settled(pki!.caCertPem);
    expect(await settled(file(workload, RABBITMQ_TLS_PATHS.ca).content)).toBe(ca);
    // Exactly the Service's names: what the services, the gateway and the probes dial.
    expect(pki!.leaves().find((leaf) => leaf.name === "rabbitmq")?.dnsNames).toEqual([
      "rabbitmq",
      "rabbitmq.fundament",
      "rabbitmq.fundament.svc",
      "rabbitmq.fundament.svc.cluster.local",
    ]);
    for (const output of Object.values(component.connections)) {
      const connection: AmqpConnection = await settled(output);
      expect(connection).toMatchObject({ port: 5671, tls: true, caCertPem: ca });
    }
    const conf = await settled(file(workload, RABBITMQ_CONF_PATH).content);
    expect(conf).toContain(`ssl_options.keyfile = ${RABBITMQ_TLS_PATHS.key}\n`);
    expect(conf).toMatch(/^listeners\.tcp = none$/m);
  });

  describe("booted by a real RabbitMQ node", () => {
    let node: RabbitNode;

    beforeAll(async () => {
      const rendered = await settled(file(workload, RABBITMQ_CONF_PATH).content);
      // The mock engine's certificates are not real ones: the test PKI's leaf stands in, at this machine's paths.
      const conf = (tls: { caFile: string; certFile: string; keyFile: string }) =>
        rendered.replaceAll(RABBITMQ_TLS_PATHS.ca, tls.caFile).replaceAll(RABBITMQ_TLS_PATHS.cert, tls.certFile).replaceAll(RABBITMQ_TLS_PATHS.key, tls.keyFile);
      node = await startRabbit({ conf, definitions: await settled(file(workload, DEFINITIONS_PATH).content) });
    });

    afterAll(async () => {
      await node?.destroy();
    });

    it("lets each service and the admin log in with the passwords the component output", async () => {
      const logins: [string, string][] = [
        ...(await Promise.all(Object.values(component.connections).map(async (output) => {
          const connection = await settled(output);
          return [connection.user, connection.password] as [string, string];
        }))),
        ["admin", await settled(component.adminPassword)],
      ];
      for (const [user, password] of logins) {
        const model = await connect({ protocol: "amqps", hostname: node.host, port: node.amqpPort, vhost: "fundament", username: user, password }, tlsOptions());
        await model.close();
      }
      await expect(connect({ protocol: "amqps", hostname: node.host, port: node.amqpPort, vhost: "fundament", username: "mailer", password: "not-the-password" }, tlsOptions())).rejects.toThrow(/ACCESS_REFUSED|403/);
      expect(node.ctl(["list_users", "--silent"]).split("\n").filter((line) => line.includes("administrator"))).toEqual([expect.stringMatching(/^admin\t/)]);
    });
  });
});
