import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CHARTS } from "../../components/gpu/chart-versions";
import { KUBE_STATE_METRICS_CHART } from "../../components/monitoring/kube-state-metrics";
import { runStack, StackView } from "./stack-run";

/**
 * Helm merges values it does not know into the release without a word, so a misspelt key
 * (`nodeSelecter`, `serviceMonitor.enable`) is a setting silently not applied. Each pinned chart
 * version has a recorded copy of the key paths its values.yaml declares and its templates read
 * (tests/fixtures/chart-values/<chart>-<version>.json, with the source it was taken from, written by
 * scripts/chart-value-keys.ts); every
 * value the stack sets must be one of them, or sit under a map whose keys the chart leaves free.
 */
interface ChartKeys {
  chart: string;
  version: string;
  source: string;
  keys: string[];
  openMaps: string[];
}

const FIXTURES = join(__dirname, "../fixtures/chart-values");

function fixtureFor(chart: string, version: string): ChartKeys | undefined {
  const file = join(FIXTURES, `${chart}-${version}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as ChartKeys) : undefined;
}

/** Leaf paths of a values object: lists and scalars end a path (Helm replaces lists whole). */
function valuePaths(values: unknown, prefix = ""): string[] {
  if (typeof values !== "object" || values === null || Array.isArray(values)) return [prefix];
  const entries = Object.entries(values);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, value]) => valuePaths(value, prefix ? `${prefix}.${key}` : key));
}

/** The paths of `values` the chart does not read. */
export function unknownValueKeys(values: Record<string, unknown>, chart: ChartKeys): string[] {
  const keys = new Set(chart.keys);
  const open = new Set(chart.openMaps);
  return valuePaths(values).filter((path) => {
    const parts = path.split(".");
    const underOpenMap = parts.slice(0, -1).some((_, i) => open.has(parts.slice(0, i + 1).join(".")));
    return !underOpenMap && !keys.has(path);
  });
}

let prod: StackView;
let releases: { chart: string; version: string; values: Record<string, unknown> }[];

beforeAll(async () => {
  prod = await runStack("prod");
  releases = prod.all("kubernetes:helm.sh/v3:Release").map((r) => prod.revealed(r) as { chart: string; version: string; values: Record<string, unknown> });
}, 300_000);

describe("chart values against the pinned chart versions", () => {
  it("has a recorded key list for every chart version the stack pins, taken from that version", () => {
    // The cluster's charts and the monitoring layer's kube-state-metrics.
    const pinned = [...Object.values(CHARTS), KUBE_STATE_METRICS_CHART];
    expect(releases.length).toBe(pinned.length);
    for (const { chart, version } of pinned) {
      const fixture = fixtureFor(chart, version);
      expect(fixture, `tests/fixtures/chart-values/${chart}-${version}.json (record it: npx tsx scripts/chart-value-keys.ts <unpacked chart> <source url>)`).toBeDefined();
      expect(fixture?.source).toMatch(/^https:\/\/github\.com\//);
      expect(fixture?.keys.length).toBeGreaterThan(20);
    }
  });

  it("sets only values keys the chart version reads", () => {
    const problems = releases.flatMap(({ chart, version, values }) => {
      const fixture = fixtureFor(chart, version);
      if (!fixture) return [`${chart} ${version}: no recorded keys`];
      return unknownValueKeys(values, fixture).map((path) => `${chart} ${version}: ${path}`);
    });
    expect(problems).toEqual([]);
  });

  it("catches a misspelt key, and one nested under a known key", () => {
    const controller = releases.find((r) => r.chart === "aws-load-balancer-controller");
    const fixture = fixtureFor(CHARTS.awsLoadBalancerController.chart, CHARTS.awsLoadBalancerController.version)!;
    expect(controller).toBeDefined();
    const { nodeSelector, ...rest } = controller!.values;
    expect(unknownValueKeys({ ...rest, nodeSelecter: nodeSelector }, fixture)).toEqual(["nodeSelecter.fundament.io/node-role"]);
    expect(unknownValueKeys({ ...controller!.values, serviceAccount: { create: true, nmae: "x" } }, fixture)).toEqual(["serviceAccount.nmae"]);
    // Under a map the chart leaves free (its own keys are the user's), any key is accepted.
    expect(unknownValueKeys({ nodeSelector: { "any.label/key": "v" } }, fixture)).toEqual([]);
  });
});
