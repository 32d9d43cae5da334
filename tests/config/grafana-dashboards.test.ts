import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { DASHBOARDS, panelExpressions, renderDashboards } from "../../components/monitoring/dashboards";
import { DATASOURCE_UID } from "../../components/monitoring/grafana-provisioning";

describe("Grafana dashboards", () => {
  it("every panel query parses (promtool, as recording rules)", () => {
    const dir = mkdtempSync(join(tmpdir(), "fundament-dashboards-"));
    try {
      const rules = DASHBOARDS.flatMap((board) => panelExpressions(board).map((expr, i) => ({ record: `dashboard:${board.uid.replace(/-/g, "_")}:${i}`, expr })));
      expect(rules.length).toBeGreaterThan(30);
      writeFileSync(join(dir, "panels.yml"), stringify({ groups: [{ name: "panels", rules }] }));
      const result = spawnSync("promtool", ["check", "rules", "panels.yml"], { cwd: dir, encoding: "utf8" });
      expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
      expect(result.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the five dashboards have stable unique uids, read only the provisioned Prometheus, and no panel overlaps another", () => {
    expect(DASHBOARDS.map((d) => d.title)).toEqual(["Platform overview", "Service health", "Resource utilisation", "Databases", "Broker"]);
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
});
