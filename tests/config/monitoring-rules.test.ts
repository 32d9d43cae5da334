import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ALERTS, renderAlertRules } from "../../components/monitoring/alert-rules";
import { ALERT_CASES, AlertCase } from "./alert-rule-cases";

const ESCALATION_MINUTES = 30;
let dir: string;

function promtool(args: string[]): { status: number | null; output: string } {
  const result = spawnSync("promtool", args, { cwd: dir, encoding: "utf8", timeout: 120_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * The rendered rules without annotations: promtool compares annotations too, and templates
 * ({{ $value | humanizePercentage }}) are Prometheus's to expand; `promtool check rules` parses
 * them in the full file. Expressions, durations and labels are exactly what is deployed.
 */
function rulesWithoutAnnotations(rendered: string): string {
  const document = parse(rendered) as { groups: { rules: Record<string, unknown>[] }[] };
  for (const group of document.groups) for (const rule of group.rules) delete rule.annotations;
  return stringify(document);
}

function unitTest(alert: string, c: AlertCase): Record<string, unknown>[] {
  const firing = {
    interval: "1m",
    name: `${alert} fires`,
    input_series: c.fires.series,
    alert_rule_test: [{ eval_time: c.fires.at, alertname: alert, exp_alerts: c.fires.labels.map((labels) => ({ exp_labels: labels })) }],
  };
  if (!("series" in c.silent)) return [firing];
  return [firing, { interval: "1m", name: `${alert} stays silent`, input_series: c.silent.series, alert_rule_test: [{ eval_time: c.silent.at, alertname: alert, exp_alerts: [] }] }];
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fundament-rules-"));
  const rendered = renderAlertRules({ escalationAfterMinutes: ESCALATION_MINUTES });
  writeFileSync(join(dir, "alerts.yml"), rendered);
  writeFileSync(join(dir, "alerts-under-test.yml"), rulesWithoutAnnotations(rendered));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("alert rules", () => {
  it("promtool check rules accepts the rendered file, templates included", () => {
    const result = promtool(["check", "rules", "alerts.yml"]);
    expect(result.output).toContain(`SUCCESS: ${ALERTS.length} rules found`);
    expect(result.status).toBe(0);
  });

  it("every alert has a firing case, and a silent case unless it fires by design", () => {
    expect(Object.keys(ALERT_CASES).sort()).toEqual(ALERTS.map((a) => a.alert).sort());
  });

  it("every alert has a severity, a summary, a description and a runbook section", () => {
    const runbooks = execFileSync("cat", ["docs/runbooks.md"], { encoding: "utf8" });
    for (const alert of ALERTS) {
      expect(["critical", "warning", "info"]).toContain(alert.severity);
      expect(alert.summary.length, alert.alert).toBeGreaterThan(10);
      expect(alert.description.length, alert.alert).toBeGreaterThan(20);
      expect(runbooks, `docs/runbooks.md has no section for ${alert.alert}`).toMatch(new RegExp(`^## ${alert.alert}$`, "m"));
    }
  });

  it.each(ALERTS.map((a) => a.alert))("promtool test rules: %s fires on its series and stays silent on look-alikes", (alert) => {
    const file = `test-${alert}.yml`;
    writeFileSync(join(dir, file), stringify({ rule_files: ["alerts-under-test.yml"], evaluation_interval: "1m", tests: unitTest(alert, ALERT_CASES[alert]) }));
    const result = promtool(["test", "rules", file]);
    expect(result.output).toContain("SUCCESS");
    expect(result.status, result.output).toBe(0);
  });

  it("a unit test with the wrong labels fails (the harness can fail)", () => {
    const wrong: AlertCase = { ...ALERT_CASES.PostgresDown, fires: { ...ALERT_CASES.PostgresDown.fires, labels: [{ severity: "warning" }] } };
    writeFileSync(join(dir, "wrong.yml"), stringify({ rule_files: ["alerts-under-test.yml"], evaluation_interval: "1m", tests: unitTest("PostgresDown", wrong) }));
    expect(promtool(["test", "rules", "wrong.yml"]).status).not.toBe(0);
  });
});
