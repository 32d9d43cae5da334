import { createTestCa, type TestCa } from "./test-pki";

let ca: TestCa | undefined;

/**
 * The CA of every server the harness starts in this test process (PostgreSQL, PgBouncer): tests
 * that do not check TLS themselves still connect over it, verifying against this CA.
 */
export function harnessCa(): TestCa {
  if (!ca) {
    const created = createTestCa("fundament harness CA");
    process.once("exit", () => created.remove());
    ca = created;
  }
  return ca;
}

let issued = 0;

/** A leaf name no other server of this process has. */
export function harnessLeafName(server: string): string {
  issued += 1;
  return `${server}-${process.pid}-${issued}`;
}
