import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { DASHBOARDS, panelExpressions, renderDashboards } from "../../components/monitoring/dashboards";
import { gpuJobs } from "../../components/monitoring/dashboards/gpu-jobs";
import { DATASOURCE_UID } from "../../components/monitoring/grafana-provisioning";
import { Registry } from "prom-client";
import { registerGpuJobMetrics } from "../../services/gpu-jobs/src/jobs/gpu-job-metrics";
import { ALERTS } from "../../components/monitoring/alert-rules";
import { ABORTED_STATUS_CLASS, statusClass } from "../../services/kit/src/metrics";

describe("Grafana dashboards", () => {
  it("every panel query parses (promtool, as recording rules)", () => {
    const dir = mkdtempSync(join(tmpdir(), "fundament-dashboards-"));
    try {
      const rules = DASHBOARDS.flatMap((board) => panelExpressions(board).map((expr, i) => ({ record: `dashboard:${String(board.uid).replace(/-/g, "_")}:${i}`, expr })));
      expect(rules.length).toBeGreaterThan(30);
      writeFileSync(join(dir, "panels.yml"), stringify({ groups: [{ name: "panels", rules }] }));
      const result = spawnSync("promtool", ["check", "rules", "panels.yml"], { cwd: dir, encoding: "utf8" });
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
      expect(result.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the six dashboards have stable unique uids, read only the provisioned Prometheus, and no panel overlaps another", () => {
    expect(DASHBOARDS.map((d) => d.title)).toEqual(["Platform overview", "Service health", "Resource utilisation", "Databases", "Broker", "GPU jobs"]);
    expect(new Set(DASHBOARDS.map((d) => d.uid)).size).toBe(DASHBOARDS.length);
    for (const board of DASHBOARDS) {
      const cells = new Set<string>();
      for (const panel of board.panels ?? []) {
        expect("datasource" in panel && panel.datasource?.uid).toBe(DATASOURCE_UID.prometheus);
        const pos = panel.gridPos!;
        for (let x = pos.x; x < pos.x + pos.w; x++) for (let y = pos.y; y < pos.y + pos.h; y++) {
          expect(cells.has(`${x},${y}`), `${board.title}: ${panel.title} overlaps`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
    expect(Object.keys(renderDashboards()).sort()).toEqual(DASHBOARDS.map((d) => `${d.uid}.json`).sort());
  });

  it("the GPU jobs dashboard reads only series the gpu-jobs service exports, each with the labels it groups by", async () => {
    const registry = new Registry();
    const metrics = registerGpuJobMetrics(registry);
    metrics.placementSeconds.observe({ outcome: "launched" }, 1.5);
    metrics.attempts.inc({ provider: "runpod" });
    metrics.failures.inc({ provider: "runpod", reason: "no_capacity" });
    metrics.spend.inc({ project: "vision", provider: "runpod" }, 2);
    metrics.queueDepth.set({ state: "queued" }, 1);
    metrics.queueAgeSeconds.set({ state: "queued" }, 30);
    const exposition = await registry.metrics();
    const exported = new Map<string, Set<string>>();
    for (const line of exposition.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      const [, name, labels] = /^([a-z_]+)(?:\{([^}]*)\})?/.exec(line)!;
      const names = exported.get(name!) ?? new Set<string>();
      for (const pair of (labels ?? "").split(",").filter(Boolean)) names.add(pair.split("=")[0]!);
      exported.set(name!, names);
    }
    const used = panelExpressions(gpuJobs).flatMap((expr) => [...expr.matchAll(/\b(gpu_jobs_[a-z_]+)\b/g)].map((match) => ({ expr, name: match[1]! })));
    expect(used.length).toBeGreaterThan(10);
    for (const { expr, name } of used) {
      expect(exported.has(name), `${name} in ${expr}`).toBe(true);
      const grouped = /by \(([^)]*)\)/.exec(expr)?.[1]?.split(",").map((label) => label.trim()).filter((label) => label !== "le") ?? [];
      for (const label of grouped) expect(exported.get(name)!.has(label), `${name} has no label ${label} (${expr})`).toBe(true);
    }
  });

  it("panels and alert rules select only status classes the kit's request histogram records, the aborted one included", () => {
    // Components cannot import the kit, so the two spell the classes apart: a renamed class would
    // leave a panel or an alert reading a series that no longer exists, silently empty.
    const recorded = new Set([ABORTED_STATUS_CLASS]);
    for (let code = 100; code < 600; code += 1) recorded.add(statusClass(code));
    const expressions = [...DASHBOARDS.flatMap((dashboard) => panelExpressions(dashboard)), ...ALERTS.map((rule) => rule.expr)];
    const selected = expressions.flatMap((expr) => [...expr.matchAll(/status_class\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map((match) => ({ expr, op: match[1]!, value: match[2]! })));
    expect(selected.map((s) => s.value)).toEqual(expect.arrayContaining(["5xx", ABORTED_STATUS_CLASS]));
    for (const { expr, op, value } of selected) {
      const matches = op.endsWith("~") ? [...recorded].some((name) => new RegExp(`^(?:${value})$`).test(name)) : recorded.has(value);
      expect(matches, `status_class ${op} "${value}" in ${expr}`).toBe(true);
    }
  });
});
