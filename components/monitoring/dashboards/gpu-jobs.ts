import type { Dashboard } from "@grafana/schema";
import { dashboard, stat, timeseries } from "./panels";

/**
 * The GPU jobs queue view (what Flower showed for Celery): jobs per state and how long the oldest
 * has waited, placement latency, launch attempts and failures per provider and reason, spend, and
 * the service's command queues in RabbitMQ. Series from services/gpu-jobs/src/jobs/gpu-job-metrics.ts.
 */
export const gpuJobs: Dashboard = dashboard("fundament-gpu-jobs", "GPU jobs", "Queue depth and age, placement, failures per provider and reason, and spend", [
  stat("Jobs waiting for a GPU", "none", [{ expr: 'sum(gpu_jobs_queue_depth{state=~"queued|placing"}) or vector(0)', legend: "waiting" }]),
  stat("Oldest waiting job", "s", [{ expr: 'max(gpu_jobs_queue_oldest_age_seconds{state=~"queued|placing"}) or vector(0)', legend: "age" }]),
  timeseries("Jobs per state", "none", [{ expr: "max by (state) (gpu_jobs_queue_depth)", legend: "{{state}}" }], "Every replica reports the same database counts: max, not sum"),
  timeseries("Oldest job age per state", "s", [{ expr: "max by (state) (gpu_jobs_queue_oldest_age_seconds)", legend: "{{state}}" }]),
  timeseries("Placement latency p50 / p95", "s", [
    { expr: "histogram_quantile(0.5, sum by (le) (rate(gpu_jobs_placement_seconds_bucket[15m])))", legend: "p50" },
    { expr: "histogram_quantile(0.95, sum by (le) (rate(gpu_jobs_placement_seconds_bucket[15m])))", legend: "p95" },
  ]),
  timeseries("Placements by outcome", "none", [{ expr: "sum by (outcome) (increase(gpu_jobs_placement_seconds_count[1h]))", legend: "{{outcome}}" }]),
  timeseries("Launch attempts per provider", "none", [{ expr: "sum by (provider) (increase(gpu_jobs_launch_attempts_total[1h]))", legend: "{{provider}}" }]),
  timeseries("Launch failures per provider and reason", "none", [{ expr: "sum by (provider, reason) (increase(gpu_jobs_launch_failures_total[1h]))", legend: "{{provider}} {{reason}}" }]),
  timeseries("Failure ratio per provider", "percentunit", [
    { expr: "sum by (provider) (increase(gpu_jobs_launch_failures_total[1h])) / sum by (provider) (increase(gpu_jobs_launch_attempts_total[1h]))", legend: "{{provider}}" },
  ]),
  timeseries("Spend per project (USD per hour)", "currencyUSD", [{ expr: "sum by (project) (rate(gpu_jobs_spend_usd_total[1h]) * 3600)", legend: "{{project}}" }]),
  timeseries("Spend per provider (USD, 24 h)", "currencyUSD", [{ expr: "sum by (provider) (increase(gpu_jobs_spend_usd_total[24h]))", legend: "{{provider}}" }]),
  timeseries("Command queues: ready and unacknowledged", "none", [
    { expr: 'sum by (queue) (rabbitmq_queue_messages_ready{queue=~"gpu-jobs\\\\.(launch|monitor|cancel)"})', legend: "{{queue}} ready" },
    { expr: 'sum by (queue) (rabbitmq_queue_messages_unacked{queue=~"gpu-jobs\\\\.(launch|monitor|cancel)"})', legend: "{{queue}} in progress" },
  ]),
  timeseries("Dead-lettered commands", "none", [{ expr: 'sum by (queue) (rabbitmq_queue_messages{queue=~"gpu-jobs\\\\..+\\\\.dlq"})', legend: "{{queue}}" }]),
  timeseries("Workers per command queue", "none", [{ expr: 'sum by (queue) (rabbitmq_queue_consumers{queue=~"gpu-jobs\\\\.(launch|monitor|cancel)"})', legend: "{{queue}}" }]),
]);
