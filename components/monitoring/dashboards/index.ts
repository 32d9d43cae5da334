import type { Dashboard } from "@grafana/schema";
import { broker } from "./broker";
import { databases } from "./databases";
import { gpuJobs } from "./gpu-jobs";
import { platformOverview } from "./platform-overview";
import { resourceUtilisation } from "./resource-utilisation";
import { serviceHealth } from "./service-health";

export { panelExpressions } from "./panels";

export const DASHBOARDS: Dashboard[] = [platformOverview, serviceHealth, resourceUtilisation, databases, broker, gpuJobs];

/** File name to JSON, as Grafana's file provider reads them. */
export function renderDashboards(): Record<string, string> {
  return Object.fromEntries(DASHBOARDS.map((d) => [`${d.uid}.json`, `${JSON.stringify(d, null, 2)}\n`]));
}
