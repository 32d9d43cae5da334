/*
 * TLS for Redis and RabbitMQ as both stacks register it through the mock engine (with real
 * certificates, made as the tls provider makes them): each server receives its own leaf of the
 * platform CA with its key only in secret inputs, every client of it receives that CA and dials
 * the TLS port by a name the leaf carries, and the gateway reaches RabbitMQ's management over HTTPS
 * verified against the CA.
 */
import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { isSecretMarker, plainStrings, RecordedResource } from "../../scripts/mock-engine";
import { runStack, StackView } from "./stack-run";

const ISSUED = new Date("2026-12-01T00:00:00Z");
const CONTAINER = "docker:index/container:Container";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
const SECRET = "kubernetes:core/v1:Secret";
const PEM = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

function certificatesIn(text: string): X509Certificate[] {
  return [...text.replace(/\\n/g, "\n").matchAll(PEM)].map((match) => new X509Certificate(match[0]));
}

function commonName(cert: X509Certificate): string {
  return /CN=([^\n]+)/.exec(cert.subject)?.[1] ?? "";
}

function caOf(run: StackView): X509Certificate {
  return new X509Certificate((run.outputs as { tls: { caCertificate: string } }).tls.caCertificate);
}

/** Whether any plain (not secret) string of the resource's inputs holds a private key. */
function plainKey(resource: RecordedResource): boolean {
  return plainStrings(resource.inputs).some((leaf) => leaf.value.includes("PRIVATE KEY-----"));
}

describe("dev (Docker): Redis and RabbitMQ TLS", () => {
  let dev: StackView;
  beforeAll(async () => {
    dev = await runStack("dev", undefined, { tlsClock: { issuedAt: ISSUED } });
  }, 300_000);

  const uploads = (name: string) => dev.revealed(dev.one(CONTAINER, `${name}-files`)).uploads as { file: string; content: string; permissions: string }[];
  const upload = (name: string, path: string) => {
    const found = uploads(name).find((u) => u.file === path);
    if (!found) throw new Error(`${name}-files uploads no ${path}`);
    return found;
  };
  const envOf = (name: string) => Object.fromEntries((dev.revealed(dev.one(CONTAINER, name)).envs as string[]).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));

  it.each([
    ["redis", "/etc/redis/tls"],
    ["rabbitmq", "/etc/rabbitmq/tls"],
  ])("%s gets its own leaf of the platform CA, its key only as a secret upload readable by its owner", (server, dir) => {
    const ca = caOf(dev);
    const [leaf] = certificatesIn(upload(server, `${dir}/tls.crt`).content);
    expect(commonName(leaf)).toBe(server);
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toContain(`DNS:${server}`);
    expect(certificatesIn(upload(server, `${dir}/ca.crt`).content).map((c) => c.fingerprint256)).toEqual([ca.fingerprint256]);
    const key = upload(server, `${dir}/tls.key`);
    expect(key.permissions).toBe("0400");
    expect(key.content).toMatch(/BEGIN (EC )?PRIVATE KEY/);
    const carrier = dev.one(CONTAINER, `${server}-files`);
    expect(isSecretMarker(carrier.inputs.uploads)).toBe(true);
    expect(plainKey(carrier)).toBe(false);
    expect(plainKey(dev.one(CONTAINER, server))).toBe(false);
  });

  it.each(["users", "config"])("%s dials Redis on rediss:// and the broker over AMQPS, each verified against the CA file it is given", (service) => {
    const env = envOf(service);
    const ca = caOf(dev).fingerprint256;
    expect(env.REDIS_URL).toMatch(/^rediss:\/\/([a-z-]+@)?redis:6379\/0$/);
    for (const variable of ["REDIS_CA_FILE", "AMQP_CA_FILE"]) {
      expect(certificatesIn(upload(service, env[variable]).content).map((c) => c.fingerprint256), variable).toEqual([ca]);
    }
    if (service === "users") expect(env.AMQP_URL).toMatch(/^amqps:\/\/users@rabbitmq:5671\//);
    else expect([env.AMQP_HOST, env.AMQP_PORT]).toEqual(["rabbitmq", "5671"]);
  });

  it("gpu-jobs reaches the broker over AMQPS with the CA, and the exporter and backup job reach Redis with it", () => {
    const ca = caOf(dev).fingerprint256;
    const gpu = envOf("gpu-jobs");
    expect(gpu.AMQP_PORT).toBe("5671");
    expect(certificatesIn(upload("gpu-jobs", gpu.AMQP_CA_FILE).content).map((c) => c.fingerprint256)).toEqual([ca]);
    const exporter = envOf("redis-exporter");
    expect(exporter.REDIS_ADDR).toBe("rediss://redis:6379");
    expect(certificatesIn(upload("redis-exporter", exporter.REDIS_EXPORTER_TLS_CA_CERT_FILE).content).map((c) => c.fingerprint256)).toEqual([ca]);
    const script = upload("redis-backup", "/etc/fundament/redis-backup.sh").content;
    const caPath = /--cacert '([^']+)'/.exec(script)?.[1] ?? "";
    expect(certificatesIn(upload("redis-backup", caPath).content).map((c) => c.fingerprint256)).toEqual([ca]);
    expect(envOf("redis-backup").REDIS_HOST).toBe("redis");
  });

  it("the gateway forwards RabbitMQ management to https://rabbitmq:15671, verified against the platform CA", () => {
    const files = uploads("gateway").map((u) => u.content).join("\n");
    expect(files).toMatch(/https:\/\/rabbitmq:15671/);
    expect(files).not.toMatch(/http:\/\/rabbitmq:/);
  });
});

describe("prod (Kubernetes): Redis and RabbitMQ TLS", () => {
  let prod: StackView;
  beforeAll(async () => {
    prod = await runStack("prod", undefined, { tlsClock: { issuedAt: ISSUED } });
  }, 300_000);

  it.each(["redis", "rabbitmq"])("%s's leaf travels in its ConfigMap with the CA, its key only in its Secret", (server) => {
    const ca = caOf(prod);
    const files = prod.one(CONFIG_MAP, `${server}-files`);
    expect(plainKey(files)).toBe(false);
    const certificates = certificatesIn(JSON.stringify(prod.revealed(files)));
    const leaf = certificates.find((c) => !c.ca);
    expect(leaf && commonName(leaf)).toBe(server);
    expect(leaf!.checkIssued(ca) && leaf!.verify(ca.publicKey)).toBe(true);
    expect(certificates.filter((c) => c.ca).map((c) => c.fingerprint256)).toEqual([ca.fingerprint256]);
    const secret = prod.one(SECRET, `${server}-secrets`);
    expect(plainKey(secret)).toBe(false);
    expect(JSON.stringify(prod.revealed(secret))).toMatch(/BEGIN (EC )?PRIVATE KEY/);
  });

  it("every workload that dials Redis or RabbitMQ is handed the CA, and none is handed a server's key", () => {
    const ca = caOf(prod).fingerprint256;
    const serverKeys = ["redis", "rabbitmq"].flatMap((server) => [
      ...JSON.stringify(prod.revealed(prod.one(SECRET, `${server}-secrets`))).matchAll(/-----BEGIN (?:EC )?PRIVATE KEY-----[^-]+/g),
    ].map((match) => match[0]));
    expect(serverKeys).toHaveLength(2);
    for (const client of ["users", "config", "gpu-jobs", "redis-exporter", "redis-backup"]) {
      const carriers = [...prod.all(CONFIG_MAP), ...prod.all(SECRET)].filter((r) => r.name === `${client}-files` || r.name === `${client}-secrets`);
      const delivered = carriers.flatMap((r) => certificatesIn(JSON.stringify(prod.revealed(r))));
      expect(delivered.map((c) => c.fingerprint256), client).toContain(ca);
      for (const key of serverKeys) expect(carriers.some((r) => JSON.stringify(prod.revealed(r)).includes(key)), client).toBe(false);
    }
  });
});
