import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { portOpen } from "../../scripts/local-servers/free-port";
import { startRedis } from "../../scripts/local-servers/redis-server";

const ROOT = join(__dirname, "..", "..");

// A test process that dies holding a running server (its start-up outlived a hook timeout, or it
// forgot to stop it) must not leave that server running for the rest of the suite.
describe("local-server harness", () => {
  it("stops the servers a test process still holds when that process exits", async () => {
    const script = [
      'import { startRedis } from "./scripts/local-servers/redis-server";',
      'startRedis("appendonly no").then((server) => { console.log(server.port); process.exit(0); });',
    ].join("\n");
    const run = spawnSync(join(ROOT, "node_modules", ".bin", "tsx"), ["--eval", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const port = Number(run.stdout.trim().split("\n").pop());
    expect(port).toBeGreaterThan(0);
    await expect.poll(() => portOpen(port), { timeout: 15_000, interval: 250 }).toBe(false);
  });

  it("fails a start at once, with the server's own words, when the server exits instead of listening", async () => {
    // Without this a bad configuration (or a port taken between picking and binding) cost the
    // whole readiness timeout, and the retry on new ports came that much later.
    const error = await startRedis("no-such-directive yes").then(
      () => undefined,
      (failure: unknown) => String(failure),
    );
    expect(error).toBeDefined();
    expect(error).not.toMatch(/timed out/);
    expect(error).toMatch(/redis-server exited 1/);
    expect(error).toMatch(/no-such-directive/);
  });
});
