import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chownTo, ownedTempDir, type ServiceUser } from "./server-process";

/**
 * A throw-away PKI for the real-server TLS tests, made with openssl the way components/pki makes
 * the platform's (ECDSA P-256, a CA, a server leaf with exactly the names clients dial), plus a
 * second, unrelated CA that must not be trusted.
 */
export interface TestPki {
  /** The platform CA stand-in (PEM) and its file. */
  readonly caPem: string;
  readonly caFile: string;
  /** An unrelated CA: a client trusting only this one must refuse the servers. */
  readonly otherCaPem: string;
  /** The server leaf's names: what a client dialling 127.0.0.1 names as its servername. */
  readonly serverName: string;
  /**
   * The CA, the leaf and its key copied into `dir` for `user` (the key mode 0400, as the platform
   * delivers it), with their paths.
   */
  filesFor(dir: string, user: ServiceUser | undefined): { caFile: string; certFile: string; keyFile: string };
  remove(): void;
}

export const TEST_SERVER_NAME = "localhost";

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string, commonName: string): void {
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`], dir);
  openssl(
    ["req", "-x509", "-new", "-key", `${name}.key`, "-sha256", "-days", "2", "-subj", `/O=fundament-test/CN=${commonName}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", `${name}.crt`],
    dir,
  );
}

export function createTestPki(): TestPki {
  const work = ownedTempDir("test-pki", undefined);
  const dir = work.path;
  makeCa(dir, "ca", "fundament test platform CA");
  makeCa(dir, "other-ca", "some other CA");
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key"], dir);
  openssl(["req", "-new", "-key", "server.key", "-subj", `/O=fundament-test/CN=${TEST_SERVER_NAME}`, "-out", "server.csr"], dir);
  writeFileSync(join(dir, "server.ext"), `subjectAltName=DNS:${TEST_SERVER_NAME}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n`);
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "server.ext", "-out", "server.crt"], dir);
  const caPem = readFileSync(join(dir, "ca.crt"), "utf8");
  const certPem = readFileSync(join(dir, "server.crt"), "utf8");
  const keyPem = readFileSync(join(dir, "server.key"), "utf8");
  return {
    caPem,
    caFile: join(dir, "ca.crt"),
    otherCaPem: readFileSync(join(dir, "other-ca.crt"), "utf8"),
    serverName: TEST_SERVER_NAME,
    filesFor(target: string, user: ServiceUser | undefined) {
      const files = { caFile: join(target, "ca.crt"), certFile: join(target, "tls.crt"), keyFile: join(target, "tls.key") };
      writeFileSync(files.caFile, caPem, { mode: 0o444 });
      writeFileSync(files.certFile, certPem, { mode: 0o444 });
      writeFileSync(files.keyFile, keyPem, { mode: 0o400 });
      for (const file of Object.values(files)) chownTo(file, user);
      return files;
    },
    remove: () => work.remove(),
  };
}

let shared: TestPki | undefined;

/** One PKI per test process: every TLS server a suite starts presents a leaf of the same CA. */
export function testPki(): TestPki {
  if (!shared) {
    shared = createTestPki();
    process.once("exit", () => shared?.remove());
  }
  return shared;
}
