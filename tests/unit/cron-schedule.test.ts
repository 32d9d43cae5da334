import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { cronMatches, cronProblem } from "../../components/config";
import { expandCronField, renderCronLoop } from "../../components/runtime/cron-loop";

const dir = mkdtempSync(join(tmpdir(), "fundament-cron-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs one pass of the rendered Docker schedule loop under /bin/sh with `date` pinned to `at`
 * and `sleep` ending the loop, and says whether the job ran.
 */
function loopRunsAt(schedule: string, at: Date): boolean {
  const marker = join(dir, `ran-${Math.random().toString(36).slice(2)}`);
  const bin = mkdtempSync(join(dir, "bin-"));
  const pad = (n: number) => String(n).padStart(2, "0");
  const fields = `${pad(at.getUTCMinutes())} ${pad(at.getUTCHours())} ${pad(at.getUTCDate())} ${pad(at.getUTCMonth() + 1)} ${at.getUTCDay()} ${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}`;
  writeFileSync(join(bin, "date"), `#!/bin/sh\necho '${fields}'\n`);
  writeFileSync(join(bin, "sleep"), "#!/bin/sh\nkill -TERM $PPID\n");
  chmodSync(join(bin, "date"), 0o755);
  chmodSync(join(bin, "sleep"), 0o755);
  const script = join(bin, "loop.sh");
  writeFileSync(script, renderCronLoop(schedule, ["touch", marker]));
  const result = spawnSync("/bin/sh", [script], { env: { PATH: `${bin}:/usr/bin:/bin` }, timeout: 10_000, encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  return existsSync(marker);
}

describe("cron expressions", () => {
  it.each([
    ["17 3 * * *", undefined],
    ["*/15 * * * 1-5", undefined],
    ["0 0 1,15 * *", undefined],
    ["0 0 * * 7", undefined],
    ["0 3 * *", "must be a cron expression with 5 fields"],
    ["60 * * * *", "is not a valid cron expression: minute 60 is outside 0-59"],
    ["0 0 0 * *", "is not a valid cron expression: day of month 0 is outside 1-31"],
    ["*/0 * * * *", "is not a valid cron expression: minute step must be at least 1"],
    ["5-1 * * * *", "is not a valid cron expression: minute range 5-1 runs backwards"],
    ["@daily", "must be a cron expression with 5 fields"],
  ])("%s → %s", (expression, problem) => {
    const found = cronProblem(expression);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });

  it("expands fields into the values they match", () => {
    expect(expandCronField("*/20", 0)).toEqual([0, 20, 40]);
    expect(expandCronField("1-5", 4)).toEqual([1, 2, 3, 4, 5]);
    expect(expandCronField("7", 4)).toEqual([0]);
    expect(expandCronField("10/30", 0)).toEqual([10, 40]);
  });

  it("the Docker schedule loop runs the job exactly when the expression matches", () => {
    const schedule = "17 3 * * *";
    expect(loopRunsAt(schedule, new Date(Date.UTC(2026, 10, 26, 3, 17)))).toBe(true);
    expect(loopRunsAt(schedule, new Date(Date.UTC(2026, 10, 26, 3, 18)))).toBe(false);
    expect(loopRunsAt(schedule, new Date(Date.UTC(2026, 10, 26, 4, 17)))).toBe(false);
    // Both day fields restricted: either matching is enough (standard cron).
    expect(loopRunsAt("0 0 1 * 1", new Date(Date.UTC(2026, 10, 30, 0, 0)))).toBe(true); // a Monday, not the 1st
    expect(loopRunsAt("0 0 1 * 1", new Date(Date.UTC(2026, 10, 29, 0, 0)))).toBe(false); // a Sunday, not the 1st
  });

  it("the shell loop agrees with the expression over random schedules and times", () => {
    const field = (min: number, max: number) =>
      fc.oneof(
        fc.constant("*"),
        fc.integer({ min, max }).map(String),
        fc.tuple(fc.integer({ min, max }), fc.integer({ min, max })).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
        fc.integer({ min: 1, max: 7 }).map((s) => `*/${s}`),
      );
    fc.assert(
      fc.property(
        fc.tuple(field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 6)),
        fc.date({ min: new Date(Date.UTC(2026, 0, 1)), max: new Date(Date.UTC(2027, 11, 31)), noInvalidDate: true }),
        (fields, at) => {
          const schedule = fields.join(" ");
          expect(cronProblem(schedule)).toBeUndefined();
          expect(loopRunsAt(schedule, at)).toBe(cronMatches(schedule, at));
        },
      ),
      { numRuns: 40 },
    );
  });

  it("reports a failed run and goes on waiting for the next one", () => {
    const bin = mkdtempSync(join(dir, "fail-"));
    writeFileSync(join(bin, "date"), "#!/bin/sh\necho '05 01 02 03 1 202603020105'\n");
    // Reaching sleep means the loop survived the failure; sleep then ends the test run.
    writeFileSync(join(bin, "sleep"), `#!/bin/sh\ntouch ${join(bin, "slept")}\nkill -TERM $PPID\n`);
    chmodSync(join(bin, "date"), 0o755);
    chmodSync(join(bin, "sleep"), 0o755);
    writeFileSync(join(bin, "loop.sh"), renderCronLoop("* * * * *", ["sh", "-c", "exit 3"]));
    const result = spawnSync("/bin/sh", [join(bin, "loop.sh")], { env: { PATH: `${bin}:/usr/bin:/bin` }, timeout: 10_000, encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain("scheduled run 202603020105 failed: exit 3");
    expect(readFileSync(join(bin, "slept"))).toBeDefined();
  });
});
