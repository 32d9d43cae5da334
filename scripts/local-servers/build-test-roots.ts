// Builds every test-server root the harness needs (once per machine; a complete root is left
// alone): `npx tsx scripts/local-servers/build-test-roots.ts`. scripts/install-test-prerequisites.sh
// runs it, so the README's test command builds them on a fresh machine.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { rootPackages, testRootPath, TEST_SUITES } from "./test-roots";

function build(suite: (typeof TEST_SUITES)[number]): Promise<void> {
  const child = spawn("bash", [join(__dirname, "build-test-root.sh"), testRootPath(suite), suite, ...rootPackages(suite)], { stdio: "inherit" });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`building the ${suite} test root failed (exit ${code})`))));
  });
}

// The suites download in parallel: most of the time goes to the mirror, not the CPU.
Promise.all(TEST_SUITES.map(build)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
