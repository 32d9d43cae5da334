import type { Dashboard } from "@grafana/schema";
import { dashboard, stat, timeseries } from "./panels";

export const platformOverview: Dashboard = dashboard("fundament-overview", "Platform overview", "Is everything up, and is anything alerting?", [
  stat("Targets down", "none", [{ expr: "count(up == 0) or vector(0)", legend: "down" }], "Scrape targets Prometheus cannot reach"),
  stat("Alerts firing", "none", [{ expr: 'count(ALERTS{alertstate="firing", alertname!="Watchdog"}) or vector(0)', legend: "firing" }]),
  timeseries("Targets up by job", "none", [{ expr: "sum by (job) (up)", legend: "{{job}}" }]),
  timeseries("Firing alerts by severity", "none", [{ expr: 'count by (severity) (ALERTS{alertstate="firing"})', legend: "{{severity}}" }]),
  timeseries("Request rate by service", "reqps", [{ expr: "sum by (service) (rate(http_request_duration_seconds_count[5m]))", legend: "{{service}}" }]),
  timeseries("5xx ratio by service", "percentunit", [
    { expr: 'sum by (service) (rate(http_request_duration_seconds_count{status_class="5xx"}[5m])) / sum by (service) (rate(http_request_duration_seconds_count[5m]))', legend: "{{service}}" },
  ]),
]);
