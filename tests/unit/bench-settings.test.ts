import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { choiceSetting, numericSetting } from "../../bench/support/bench-settings";

describe("numericSetting", () => {
  it("takes the default when the variable is unset, and the value when it is a whole number in range", () => {
    expect(numericSetting("BENCH_ROUNDS", 5, {}, {})).toBe(5);
    expect(numericSetting("BENCH_ROUNDS", 5, {}, { BENCH_ROUNDS: "3" })).toBe(3);
    expect(numericSetting("BENCH_WARMUP_SECONDS", 10, { min: 0 }, { BENCH_WARMUP_SECONDS: "0" })).toBe(0);
  });

  it.each([
    ["abc", /BENCH_ROUNDS: must be an integer >= 1 \(got "abc"\)/],
    ["", /BENCH_ROUNDS: must be an integer >= 1 \(got ""\)/],
    ["2.5", /BENCH_ROUNDS: must be an integer >= 1, not a fraction \(got "2\.5"\)/],
    ["0", /BENCH_ROUNDS: must be an integer >= 1 \(got "0"\)/],
    ["-4", /BENCH_ROUNDS: must be an integer >= 1 \(got "-4"\)/],
    ["Infinity", /BENCH_ROUNDS: must be an integer >= 1 \(got "Infinity"\)/],
  ])("refuses BENCH_ROUNDS=%j naming the variable, the reason and the value", (raw, message) => {
    expect(() => numericSetting("BENCH_ROUNDS", 5, {}, { BENCH_ROUNDS: raw })).toThrow(message);
  });
});

describe("choiceSetting", () => {
  it("takes the default when unset, a listed value as is, and refuses anything else naming the choices", () => {
    expect(choiceSetting("BENCH_BASELINE", ["stock", "rendered"], "stock", {})).toBe("stock");
    expect(choiceSetting("BENCH_BASELINE", ["stock", "rendered"], "stock", { BENCH_BASELINE: "rendered" })).toBe("rendered");
    expect(() => choiceSetting("BENCH_BASELINE", ["stock", "rendered"], "stock", { BENCH_BASELINE: "Rendered" })).toThrow('BENCH_BASELINE: must be one of stock, rendered (got "Rendered")');
  });
});

describe("a benchmark given a bad knob", () => {
  // Both refusals come before any server starts, so each run ends within the tsx start-up.
  it.each([
    ["tls", { BENCH_ROUNDS: "five" }, /BENCH_ROUNDS: must be an integer >= 1 \(got "five"\)/],
    ["postgres-tuning", { BENCH_WORKLOADS: "tpcb,selct" }, /BENCH_WORKLOADS: "selct" is not a workload/],
    ["pgbouncer", { BENCH_FANIN_WORKLOAD: "simple_update" }, /BENCH_FANIN_WORKLOAD: must be one of simple-update, single \(got "simple_update"\)/],
  ])("%s stops before it measures anything", (bench, env, message) => {
    const run = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "../../bench", `${bench}.ts`)], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).not.toMatch(/ratio/);
  });
});
