import type { Dashboard, DataSourceRef, Panel } from "@grafana/schema";
import { DATASOURCE_UID } from "../grafana-provisioning";

/** Every panel queries the provisioned Prometheus by uid. */
export const PROMETHEUS: DataSourceRef = { type: "prometheus", uid: DATASOURCE_UID.prometheus };

export interface Query {
  expr: string;
  legend: string;
}

const WIDTH = 24;

/** A panel of a given kind at its place in a two-column grid; ids and positions follow order. */
interface PanelSpec {
  title: string;
  kind: "timeseries" | "stat";
  unit: string;
  queries: Query[];
  description?: string;
  /** Full width instead of half. */
  wide?: boolean;
}

export const timeseries = (title: string, unit: string, queries: Query[], description?: string): PanelSpec => ({ title, kind: "timeseries", unit, queries, description });
export const stat = (title: string, unit: string, queries: Query[], description?: string): PanelSpec => ({ title, kind: "stat", unit, queries, description });

function panel(spec: PanelSpec, index: number, y: number, x: number): Panel {
  const width = spec.wide ? WIDTH : WIDTH / 2;
  return {
    id: index + 1,
    type: spec.kind,
    title: spec.title,
    description: spec.description,
    datasource: PROMETHEUS,
    gridPos: { h: 8, w: width, x, y },
    fieldConfig: { defaults: { unit: spec.unit }, overrides: [] },
    options: spec.kind === "stat" ? { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "value", graphMode: "area" } : { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi", sort: "desc" } },
    targets: spec.queries.map((q, i) => ({ refId: String.fromCharCode(65 + i), datasource: PROMETHEUS, expr: q.expr, legendFormat: q.legend, range: true })),
  };
}

/** A dashboard in Grafana's JSON model, typed by @grafana/schema; uid is stable across deploys. */
export function dashboard(uid: string, title: string, description: string, specs: PanelSpec[]): Dashboard {
  let x = 0;
  let y = 0;
  const panels = specs.map((spec, i) => {
    const width = spec.wide ? WIDTH : WIDTH / 2;
    if (x + width > WIDTH) {
      x = 0;
      y += 8;
    }
    const placed = panel(spec, i, y, x);
    x += width;
    return placed;
  });
  return {
    uid,
    title,
    description,
    tags: ["fundament"],
    editable: false,
    schemaVersion: 41,
    time: { from: "now-6h", to: "now" },
    refresh: "30s",
    timezone: "utc",
    templating: { list: [] },
    annotations: { list: [] },
    links: [],
    panels,
  };
}

/** Every PromQL expression of a dashboard's panels. */
export function panelExpressions(board: Dashboard): string[] {
  return (board.panels ?? []).flatMap((p) => ("targets" in p && p.targets ? p.targets.map((t) => String(t.expr)) : []));
}
