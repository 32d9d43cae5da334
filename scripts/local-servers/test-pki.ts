// A certificate authority for real-server tests, made with openssl the way components/pki makes
// the platform's (ECDSA P-256, a CA and leaves carrying exactly the DNS names given). Tests start
// servers with leaves of one CA and check that clients trusting it connect, while clients
// trusting a second, unrelated CA ("other") are refused.
import { execFileSync } from "node:child_process";
import { chownSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sharedTempDir } from "./test-roots";

export interface TestLeaf {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export interface TestCa {
  /** Where the CA certificate is: what a client verifies against. */
  caPath: string;
  caPem: string;
  /**
   * A server leaf signed by this CA for exactly `dnsNames` (and `ips`), written into `dir` (default:
   * the CA's own directory). The key file is mode 0400, owned by `owner` when given.
   */
  leaf(name: string, dnsNames: readonly string[], options?: { dir?: string; owner?: { uid: number; gid: number }; ips?: readonly string[] }): TestLeaf;
  /** Removes every file this CA wrote. */
  remove(): void;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

/** A new CA in a directory every test root can read (servers run inside their roots). */
export function createTestCa(commonName = "fundament test CA"): TestCa {
  const dir = mkdtempSync(join(sharedTempDir(), "fundament-test-ca-"));
  chmodSync(dir, 0o755);
  const caKey = join(dir, "ca.key");
  const caPath = join(dir, "ca.crt");
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", caKey]);
  openssl([
    "req", "-x509", "-new", "-key", caKey, "-sha256", "-days", "2", "-subj", `/O=fundament/CN=${commonName}`, "-out", caPath,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  chmodSync(caPath, 0o444);
  const caPem = readFileSync(caPath, "utf8");
  const issued = new Set<string>();
  return {
    caPath,
    caPem,
    leaf(name, dnsNames, options = {}) {
      if (issued.has(name)) throw new Error(`test CA: a leaf named ${name} was already issued`);
      issued.add(name);
      const out = options.dir ?? dir;
      const keyPath = join(out, `${name}.key`);
      const certPath = join(out, `${name}.crt`);
      const csr = join(dir, `${name}.csr`);
      const ext = join(dir, `${name}.ext`);
      const sans = [...dnsNames.map((n) => `DNS:${n}`), ...(options.ips ?? []).map((ip) => `IP:${ip}`)];
      writeFileSync(
        ext,
        [
          "basicConstraints=critical,CA:FALSE",
          "keyUsage=critical,digitalSignature,keyEncipherment",
          "extendedKeyUsage=serverAuth",
          ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
          "",
        ].join("\n"),
      );
      openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyPath]);
      openssl(["req", "-new", "-key", keyPath, "-subj", `/O=fundament/CN=${name}`, "-out", csr]);
      openssl(["x509", "-req", "-in", csr, "-CA", caPath, "-CAkey", caKey, "-CAcreateserial", "-days", "1", "-sha256", "-extfile", ext, "-out", certPath]);
      chmodSync(certPath, 0o444);
      chmodSync(keyPath, 0o400);
      if (options.owner) chownSync(keyPath, options.owner.uid, options.owner.gid);
      return { certPath, keyPath, certPem: readFileSync(certPath, "utf8"), keyPem: readFileSync(keyPath, "utf8") };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
