import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { chownTo, type ServiceUser } from "./server-process";
import { harnessCa, harnessLeafName } from "./harness-ca";
import { createTestCa, type TestCa, type TestLeaf } from "./test-pki";

/**
 * One test PKI per test process, for the servers the harness starts with TLS (Redis, RabbitMQ):
 * the harness CA (harness-ca.ts, which PostgreSQL and PgBouncer present leaves of too, so one CA
 * file verifies every server, as the platform CA does), one server leaf for "localhost" (the name
 * clients dial here), and a second, unrelated CA that must not be trusted.
 */
export interface SharedTestPki {
  /** The platform CA stand-in (PEM) and its file. */
  readonly caPem: string;
  readonly caFile: string;
  /** An unrelated CA: a client trusting only this one must refuse the servers. */
  readonly otherCaPem: string;
  /** The one name the server leaf carries: what clients dial and verify. */
  readonly serverName: string;
  /**
   * The CA, the leaf and its key copied into `dir` for `user` (the key mode 0400, as the platform
   * delivers it), with their paths.
   */
  filesFor(dir: string, user: ServiceUser | undefined): { caFile: string; certFile: string; keyFile: string };
}

export const TEST_SERVER_NAME = "localhost";

let shared: { other: TestCa; leaf: TestLeaf; pki: SharedTestPki } | undefined;

export function testPki(): SharedTestPki {
  if (shared) return shared.pki;
  const ca = harnessCa();
  const other = createTestCa("some other CA");
  const leaf = ca.leaf(harnessLeafName("tls-server"), [TEST_SERVER_NAME]);
  const pki: SharedTestPki = {
    caPem: ca.caPem,
    caFile: ca.caPath,
    otherCaPem: other.caPem,
    serverName: TEST_SERVER_NAME,
    filesFor(dir, user) {
      const files = { caFile: join(dir, "ca.crt"), certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key") };
      writeFileSync(files.caFile, ca.caPem, { mode: 0o444 });
      writeFileSync(files.certFile, leaf.certPem, { mode: 0o444 });
      writeFileSync(files.keyFile, leaf.keyPem, { mode: 0o400 });
      for (const file of Object.values(files)) chownTo(file, user);
      return files;
    },
  };
  shared = { other, leaf, pki };
  process.once("exit", () => other.remove());
  return pki;
}
