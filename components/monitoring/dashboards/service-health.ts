import type { Dashboard } from "@grafana/schema";
import { dashboard, timeseries } from "./panels";

/** RED per route, from the kit's http_request_duration_seconds histogram. */
export const serviceHealth: Dashboard = dashboard("fundament-services", "Service health", "Rate, errors and duration per service and route", [
  timeseries("Requests per route", "reqps", [{ expr: "sum by (service, route) (rate(http_request_duration_seconds_count[5m]))", legend: "{{service}} {{route}}" }]),
  timeseries("Errors per route (5xx)", "reqps", [{ expr: 'sum by (service, route) (rate(http_request_duration_seconds_count{status_class="5xx"}[5m]))', legend: "{{service}} {{route}}" }]),
  // Requests whose client hung up before the answer: callers or the gateway timing out show here
  // first, while the 5xx panel stays flat.
  timeseries("Aborted by the client per route", "reqps", [{ expr: 'sum by (service, route) (rate(http_request_duration_seconds_count{status_class="aborted"}[5m]))', legend: "{{service}} {{route}}" }]),
  timeseries("p99 duration per route", "s", [{ expr: "histogram_quantile(0.99, sum by (service, route, le) (rate(http_request_duration_seconds_bucket[5m])))", legend: "{{service}} {{route}}" }]),
  timeseries("p50 duration per route", "s", [{ expr: "histogram_quantile(0.5, sum by (service, route, le) (rate(http_request_duration_seconds_bucket[5m])))", legend: "{{service}} {{route}}" }]),
  timeseries("Ready instances", "none", [{ expr: "sum by (service) (fundament_service_ready)", legend: "{{service}}" }]),
  timeseries("Event loop lag p99", "s", [{ expr: "max by (service, instance) (nodejs_eventloop_lag_p99_seconds)", legend: "{{instance}}" }]),
  timeseries("Resident memory", "bytes", [{ expr: "max by (service, instance) (process_resident_memory_bytes{role=\"service\"})", legend: "{{instance}}" }]),
  timeseries("Database pool waiting", "none", [{ expr: "sum by (service, instance) (pg_pool_waiting_requests)", legend: "{{instance}}" }]),
]);
