// Real certificates for the mock engine, made the way the tls provider makes them (its
// common_cert.go: NotBefore = now, NotAfter = now + validity_period_hours; ready_for_renewal set
// on read once now >= NotAfter - early_renewal_hours, which its ModifyPlan turns into a
// replacement). Opt-in: only tests that verify signatures or renewal pay for openssl.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface MockTlsClock {
  /** When the provider created the certificates. */
  issuedAt: Date;
  /** When the provider reads them back (a later `pulumi up`). Default: issuedAt. */
  now?: Date;
  /**
   * Private keys from an earlier run, by resource name: the state a later `pulumi up` finds. A key
   * whose inputs did not change is read back, not made again (the provider replaces a key only
   * when its algorithm, curve or size changes); new keys are added to the map.
   */
  keys?: Map<string, Record<string, unknown>>;
}

const KEY_USAGES: Record<string, string> = {
  digital_signature: "digitalSignature",
  key_encipherment: "keyEncipherment",
  cert_signing: "keyCertSign",
  crl_signing: "cRLSign",
};
const EXTENDED_USAGES: Record<string, string> = { server_auth: "serverAuth", client_auth: "clientAuth" };

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Inputs with the engine's secret wrappers removed: the provider sees the values. */
function revealed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revealed);
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    if (SECRET_SIG in record) return revealed(record.value);
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, revealed(v)]));
  }
  return value;
}

function subjectLine(subject: Record<string, unknown> | undefined): string {
  // Go's pkix writes O, OU, CN in this order; openssl writes them in the order given.
  const parts: string[] = [];
  if (subject?.organization) parts.push(`O=${String(subject.organization)}`);
  if (subject?.organizationalUnit) parts.push(`OU=${String(subject.organizationalUnit)}`);
  if (subject?.commonName) parts.push(`CN=${String(subject.commonName)}`);
  return `/${parts.join("/")}`;
}

function extensions(uses: unknown, isCa: boolean): string {
  const list = Array.isArray(uses) ? uses.map(String) : [];
  const lines = [`basicConstraints=critical,CA:${isCa ? "TRUE" : "FALSE"}`, "subjectKeyIdentifier=hash"];
  const key = list.map((u) => KEY_USAGES[u]).filter(Boolean);
  const extended = list.map((u) => EXTENDED_USAGES[u]).filter(Boolean);
  if (key.length > 0) lines.push(`keyUsage=critical,${key.join(",")}`);
  if (extended.length > 0) lines.push(`extendedKeyUsage=${extended.join(",")}`);
  return `${lines.join("\n")}\n`;
}

function withFiles<T>(files: Record<string, string>, run: (path: (name: string) => string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "mock-tls-"));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content, { mode: 0o600 });
    return run((name) => join(dir, name));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function validity(inputs: Record<string, unknown>, clock: MockTlsClock): Record<string, unknown> {
  const hours = Number(inputs.validityPeriodHours);
  const end = new Date(clock.issuedAt.getTime() + hours * 3_600_000);
  const renewalFrom = end.getTime() - Number(inputs.earlyRenewalHours ?? 0) * 3_600_000;
  return {
    validityStartTime: clock.issuedAt.toISOString().replace(/\.000Z$/, "Z"),
    validityEndTime: end.toISOString().replace(/\.000Z$/, "Z"),
    readyForRenewal: (clock.now ?? clock.issuedAt).getTime() >= renewalFrom,
  };
}

function newPrivateKey(inputs: Record<string, unknown>): Record<string, unknown> {
  const algorithm = String(inputs.algorithm);
  const pair =
    algorithm === "ECDSA"
      ? generateKeyPairSync("ec", { namedCurve: String(inputs.ecdsaCurve ?? "P224") === "P256" ? "P-256" : "P-384" })
      : algorithm === "ED25519"
        ? generateKeyPairSync("ed25519")
        : generateKeyPairSync("rsa", { modulusLength: Number(inputs.rsaBits ?? 2048) });
  const pkcs8 = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const traditional = algorithm === "ECDSA" ? pair.privateKey.export({ type: "sec1", format: "pem" }).toString() : algorithm === "RSA" ? pair.privateKey.export({ type: "pkcs1", format: "pem" }).toString() : pkcs8;
  return { ...inputs, privateKeyPem: traditional, privateKeyPemPkcs8: pkcs8, publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString() };
}

/** State of a tls provider resource, or undefined for other types. */
export function mockTlsState(type: string, name: string, rawInputs: Record<string, unknown>, clock: MockTlsClock): Record<string, unknown> | undefined {
  if (!type.startsWith("tls:")) return undefined;
  const inputs = revealed(rawInputs) as Record<string, unknown>;
  switch (type) {
    case "tls:index/privateKey:PrivateKey": {
      const kept = clock.keys?.get(name);
      if (kept && ["algorithm", "ecdsaCurve", "rsaBits"].every((field) => kept[field] === inputs[field])) return kept;
      const made = newPrivateKey(inputs);
      clock.keys?.set(name, made);
      return made;
    }
    case "tls:index/selfSignedCert:SelfSignedCert": {
      const days = String(Math.ceil(Number(inputs.validityPeriodHours) / 24));
      // openssl req reads extensions from a section of its config file.
      const config = `[req]\ndistinguished_name=dn\n[dn]\n[v3]\n${extensions(inputs.allowedUses, inputs.isCaCertificate === true)}`;
      const certPem = withFiles({ "key.pem": String(inputs.privateKeyPem), "req.cnf": config }, (p) =>
        openssl(["req", "-x509", "-new", "-key", p("key.pem"), "-subj", subjectLine(inputs.subject as Record<string, unknown>), "-days", days, "-extensions", "v3", "-config", p("req.cnf")]),
      );
      return { ...inputs, certPem, ...validity(inputs, clock) };
    }
    case "tls:index/certRequest:CertRequest": {
      const names = Array.isArray(inputs.dnsNames) ? inputs.dnsNames.map(String) : [];
      const certRequestPem = withFiles({ "key.pem": String(inputs.privateKeyPem) }, (p) =>
        openssl(["req", "-new", "-key", p("key.pem"), "-subj", subjectLine(inputs.subject as Record<string, unknown>), ...(names.length > 0 ? ["-addext", `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}`] : [])]),
      );
      return { ...inputs, certRequestPem };
    }
    case "tls:index/locallySignedCert:LocallySignedCert": {
      const days = String(Math.ceil(Number(inputs.validityPeriodHours) / 24));
      const certPem = withFiles(
        { "csr.pem": String(inputs.certRequestPem), "ca.pem": String(inputs.caCertPem), "ca-key.pem": String(inputs.caPrivateKeyPem), "ext.cnf": extensions(inputs.allowedUses, false) },
        (p) =>
          openssl(["x509", "-req", "-in", p("csr.pem"), "-CA", p("ca.pem"), "-CAkey", p("ca-key.pem"), "-set_serial", `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`, "-days", days, "-copy_extensions", "copy", "-extfile", p("ext.cnf")]),
      );
      return { ...inputs, certPem, ...validity(inputs, clock) };
    }
    default:
      return undefined;
  }
}
