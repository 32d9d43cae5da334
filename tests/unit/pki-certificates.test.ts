/*
 * The platform PKI through the mock engine with real certificates (openssl, made the way the tls
 * provider makes them): every leaf a workload receives is signed by the CA the stack publishes,
 * names exactly the hosts its clients dial on the target, and is due for renewal exactly inside
 * the configured window, as the provider's ready_for_renewal decides (a later `pulumi up` then
 * replaces it).
 */
import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { plainStrings, readStackConfig } from "../../scripts/mock-engine";
import { runStack, StackView, unwrapSecrets } from "./stack-run";

const ISSUED = new Date("2026-12-01T00:00:00Z");
const HOUR = 3_600_000;

/** The stack's own config plus a MongoDB database, so every kind of server gets its leaf. */
function withMongo(stack: string, extra: Record<string, string> = {}): Record<string, string> {
  const config = readStackConfig(stack);
  const mongo = JSON.parse(config["fundament:mongo"] ?? "{}") as Record<string, unknown>;
  return { ...config, "fundament:mongo": JSON.stringify({ ...mongo, databases: [{ service: "users", indexes: [] }] }), ...extra };
}

const PEM = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Every certificate a workload receives: PEM blocks in any non-tls resource's inputs. */
function deliveredCertificates(run: StackView): Map<string, X509Certificate> {
  const found = new Map<string, X509Certificate>();
  for (const resource of run.resources) {
    if (resource.type.startsWith("tls:")) continue;
    for (const match of JSON.stringify(unwrapSecrets(resource.inputs)).replace(/\\n/g, "\n").matchAll(PEM)) {
      const cert = new X509Certificate(match[0]);
      found.set(cert.fingerprint256, cert);
    }
  }
  return found;
}

function sans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? "")
    .split(", ")
    .filter((entry) => entry.startsWith("DNS:"))
    .map((entry) => entry.slice(4))
    .sort();
}

/** Hosts the services' connection settings dial, by host (the stack outputs carry them). */
function connectionHosts(run: StackView): Set<string> {
  const hosts = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === "object" && value !== null) {
      const record = value as Record<string, unknown>;
      if (typeof record.host === "string") hosts.add(record.host);
      Object.values(record).forEach(walk);
    }
  };
  const outputs = unwrapSecrets(run.outputs) as Record<string, unknown>;
  for (const key of ["postgres", "databases", "redis", "mongo", "rabbitmq"]) walk(outputs[key]);
  // The services' endpoints are URLs (https, with their leaves).
  for (const url of Object.values((outputs.services ?? {}) as Record<string, string>)) hosts.add(new URL(url).hostname);
  // Consul's clients (services, gateway, Prometheus, the ACL job) dial its API URL.
  const consul = outputs.consul as { apiUrl?: string } | undefined;
  if (consul?.apiUrl) hosts.add(new URL(consul.apiUrl).hostname);
  return hosts;
}

/** How a client on the target may spell a host: the runtime's naming, not the PKI's. */
function spellings(stack: string, host: string, namespace: string): string[] {
  return stack === "dev" ? [host] : [host, `${host}.${namespace}`, `${host}.${namespace}.svc`, `${host}.${namespace}.svc.cluster.local`];
}

/**
 * What Consul servers dial each other by, beside the name its clients dial: on Kubernetes each
 * member by its pod name under the headless Service (retry_join), and on every target the name
 * Consul's RPC checks on a server's certificate (verify_server_hostname: server.<datacenter>.consul).
 */
function consulPeerNames(stack: string, namespace: string, outputs: { environment: string; consul: { servers: number } }): string[] {
  const members = stack === "dev" ? [] : Array.from({ length: outputs.consul.servers }, (_, i) => spellings(stack, `consul-${i}.consul`, namespace)).flat();
  return [...members, `server.${outputs.environment}.consul`];
}

describe.each([
  ["dev", ""],
  ["prod", "fundament-prod"],
])("platform PKI on %s", (stack, namespace) => {
  let run: StackView;
  const load = async () => (run ??= await runStack(stack, withMongo(stack), { tlsClock: { issuedAt: ISSUED } }));

  it("publishes one CA, and every certificate a workload receives is that CA or a leaf it signed", async () => {
    await load();
    const outputs = run.outputs as { tls: { caCertificate: string } };
    const ca = new X509Certificate(outputs.tls.caCertificate);
    expect(ca.ca).toBe(true);
    const delivered = [...deliveredCertificates(run).values()];
    const leaves = delivered.filter((cert) => !cert.ca);
    expect(delivered.filter((cert) => cert.ca).map((cert) => cert.fingerprint256)).toEqual([ca.fingerprint256]);
    expect(leaves.length).toBeGreaterThan(0);
    for (const leaf of leaves) {
      expect(leaf.verify(ca.publicKey), leaf.subject).toBe(true);
      expect(leaf.checkIssued(ca), leaf.subject).toBe(true);
    }
  });

  it("a server leaf names exactly the spellings of the host its clients' connection settings dial", async () => {
    await load();
    const hosts = connectionHosts(run);
    // The gateway's public certificate names the stack's domain (*.domain), which browsers dial, not a connection setting.
    const isPublic = (cert: X509Certificate) => sans(cert).every((name) => name.endsWith("fundament.localhost") || name.endsWith("platform.example.com"));
    const servers = [...deliveredCertificates(run).values()].filter((cert) => !cert.ca && sans(cert).length > 0 && !isPublic(cert));
    expect(servers.length).toBeGreaterThan(0);
    for (const server of servers) {
      const commonName = /CN=([^\n]+)/.exec(server.subject)?.[1] ?? "";
      expect(hosts, `no connection setting dials ${commonName}`).toContain(commonName);
      // "localhost": the probes a server runs inside its own container connect over TLS too.
      const extra = sans(server).filter((name) => name === "localhost");
      const peers = commonName === "consul" ? consulPeerNames(stack, namespace, run.outputs as { environment: string; consul: { servers: number } }) : [];
      expect(sans(server), commonName).toEqual([...spellings(stack, commonName, namespace), ...peers, ...extra].sort());
    }
  });

  it("no private key reaches a resource input in plain text", async () => {
    await load();
    const leaked = run.resources
      .filter((r) => !r.type.startsWith("tls:"))
      .filter((r) => plainStrings(r.inputs).some((leaf) => leaf.value.includes("PRIVATE KEY-----")))
      .map((r) => `${r.type} ${r.name}`);
    expect(leaked).toEqual([]);
  });
});

describe("renewal", () => {
  const validityHours = 240;
  const earlyRenewalHours = 48;
  const config = withMongo("dev", { "fundament:tls": JSON.stringify({ validityHours, earlyRenewalHours, caValidityHours: 8_760 }) });
  const leafStates = (run: StackView) => [...run.providerState.entries()].filter(([key]) => key.startsWith("tls:index/locallySignedCert:LocallySignedCert::"));
  const caState = (run: StackView) => run.providerState.get("tls:index/selfSignedCert:SelfSignedCert::pki-ca");

  it.each([
    ["a minute before the window", validityHours - earlyRenewalHours - 1 / 60, false],
    ["a minute into the window", validityHours - earlyRenewalHours + 1 / 60, true],
  ])("%s after issue, every leaf's ready_for_renewal is what a `pulumi up` acts on", async (_when, hoursLater, due) => {
    const run = await runStack("dev", config, { tlsClock: { issuedAt: ISSUED, now: new Date(ISSUED.getTime() + hoursLater * HOUR) } });
    const leaves = leafStates(run);
    expect(leaves.length).toBeGreaterThan(0);
    for (const [key, state] of leaves) expect(state.readyForRenewal, key).toBe(due);
    // The stack tells the operator the same date: validity from config, renewal that many hours early.
    const outputs = run.outputs as { tls: { certificates: Record<string, { validUntil: string; renewsFrom: string }> } };
    expect(Object.keys(outputs.tls.certificates).length).toBe(leaves.length);
    for (const cert of Object.values(outputs.tls.certificates)) {
      expect(Date.parse(cert.validUntil)).toBe(ISSUED.getTime() + validityHours * HOUR);
      expect(Date.parse(cert.renewsFrom)).toBe(ISSUED.getTime() + (validityHours - earlyRenewalHours) * HOUR);
    }
    // The CA has its own, longer validity: renewing the leaves does not renew it.
    expect(caState(run)?.readyForRenewal).toBe(false);
  });
});
