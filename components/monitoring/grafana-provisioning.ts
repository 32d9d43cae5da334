import { stringify } from "yaml";

export const GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning";
export const GRAFANA_DASHBOARDS_DIR = "/etc/grafana/dashboards";

export interface GrafanaDatasourcesInput {
  prometheusUrl: string;
  alertmanagerUrl: string;
  jaegerUrl: string;
}

/** Datasource uids the dashboards refer to; stable so a panel's datasource never dangles. */
export const DATASOURCE_UID = { prometheus: "prometheus", alertmanager: "alertmanager", jaeger: "jaeger" } as const;

/** provisioning/datasources: Prometheus (default), Alertmanager and Jaeger, none editable in the UI. */
export function renderGrafanaDatasources(input: GrafanaDatasourcesInput): string {
  const datasources = [
    { name: "Prometheus", uid: DATASOURCE_UID.prometheus, type: "prometheus", access: "proxy", url: input.prometheusUrl, isDefault: true, editable: false, jsonData: { httpMethod: "POST" } },
    { name: "Alertmanager", uid: DATASOURCE_UID.alertmanager, type: "alertmanager", access: "proxy", url: input.alertmanagerUrl, editable: false, jsonData: { implementation: "prometheus", handleGrafanaManagedAlerts: false } },
    { name: "Jaeger", uid: DATASOURCE_UID.jaeger, type: "jaeger", access: "proxy", url: input.jaegerUrl, editable: false },
  ];
  return `# Rendered by fundament (components/monitoring/grafana-provisioning.ts).\n${stringify({ apiVersion: 1, prune: true, datasources }, { lineWidth: 0 })}`;
}

/** provisioning/dashboards: the dashboards as files in one folder; UI edits cannot be saved over them. */
export function renderGrafanaDashboardProvider(folder: string): string {
  const providers = [
    { name: "fundament", folder, type: "file", disableDeletion: true, allowUiUpdates: false, updateIntervalSeconds: 60, options: { path: GRAFANA_DASHBOARDS_DIR, foldersFromFilesStructure: false } },
  ];
  return `# Rendered by fundament (components/monitoring/grafana-provisioning.ts).\n${stringify({ apiVersion: 1, providers }, { lineWidth: 0 })}`;
}
