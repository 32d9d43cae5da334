import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export interface GpuJobMetrics {
  placementSeconds: Histogram<"outcome">;
  attempts: Counter<"provider">;
  failures: Counter<"provider" | "reason">;
  spend: Counter<"project" | "provider">;
  queueDepth: Gauge<"state">;
  queueAgeSeconds: Gauge<"state">;
}

export function registerGpuJobMetrics(registry: Registry): GpuJobMetrics {
  return {
    placementSeconds: new Histogram({ name: "gpu_jobs_placement_seconds", help: "time from claiming a job to its launch or giving up", labelNames: ["outcome"], buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers: [registry] }),
    attempts: new Counter({ name: "gpu_jobs_launch_attempts_total", help: "launch attempts per provider", labelNames: ["provider"], registers: [registry] }),
    failures: new Counter({ name: "gpu_jobs_launch_failures_total", help: "failed launch attempts per provider and reason", labelNames: ["provider", "reason"], registers: [registry] }),
    spend: new Counter({ name: "gpu_jobs_spend_usd_total", help: "cost of finished jobs per project and provider", labelNames: ["project", "provider"], registers: [registry] }),
    queueDepth: new Gauge({ name: "gpu_jobs_queue_depth", help: "jobs per active state", labelNames: ["state"], registers: [registry] }),
    queueAgeSeconds: new Gauge({ name: "gpu_jobs_queue_oldest_age_seconds", help: "age of the oldest job per active state", labelNames: ["state"], registers: [registry] }),
  };
}
