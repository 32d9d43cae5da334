/*
 * The part of the dev stack the monitoring end-to-end test runs: the real components (Postgres,
 * PgBouncer, Redis, RabbitMQ, the config service, Monitoring) built through Pulumi's mock engine
 * against a runtime that records the Workloads they hand over, from the dev stack's own config.
 * What they record (args, environment, files, scrape targets, prometheus.yml, alert rules,
 * alertmanager.yml) is what the test starts the real programs with.
 */
import { RabbitMQ } from "../../components/broker";
import { loadStackConfig } from "../../components/config/load-config";
import type { StackConfig } from "../../components/config/stack-config";
import { PgBouncer } from "../../components/database/postgres/pgbouncer";
import { Postgres } from "../../components/database/postgres/postgres";
import { Redis } from "../../components/database/redis/redis";
import { sizeOf } from "../../components/layers/layer-scope";
import { Monitoring, ScrapeTargetRegistry } from "../../components/monitoring";
import type { Workload } from "../../components/runtime/workload";
import { FastifyService } from "../../components/services/fastify-service";
import { brokerModelFor } from "../../components/services/service-broker";
import { configSettings } from "../../components/services/service-settings";
import { readStackConfig } from "../../scripts/mock-engine";
import { RecordingRuntime, settled } from "../config/recording-runtime";
import { PlatformPki } from "../../components/pki/platform-pki";

/** A Workload with every input resolved, as the runtime would hand it to Docker. */
export interface ResolvedWorkload {
  workload: Workload;
  args: string[];
  env: Record<string, string>;
  files: { path: string; content: string; mode?: number }[];
  file(path: string): string;
}

export interface MonitoringStack {
  config: StackConfig;
  /** Every workload the components deployed, by name. */
  workloads: Map<string, ResolvedWorkload>;
  /** The config service's migration job. */
  migration: ResolvedWorkload;
}

export interface Receivers {
  pager: { url: string; key: string };
  slack: { webhookUrl: string };
  escalation: { url: string; key: string };
  deadMansSwitch: { url: string };
}

async function resolve(workload: Workload): Promise<ResolvedWorkload> {
  const env = Object.fromEntries(await Promise.all(Object.entries(workload.env ?? {}).map(async ([k, v]) => [k, await settled(v)] as const)));
  const files = await Promise.all((workload.files ?? []).map(async (f) => ({ path: f.path, content: await settled(f.content), ...(f.mode !== undefined ? { mode: f.mode } : {}) })));
  return {
    workload,
    args: workload.args ?? [],
    env,
    files,
    file(path) {
      const found = files.find((f) => f.path === path);
      if (!found) throw new Error(`${workload.name} has no file ${path}`);
      return found.content;
    },
  };
}

/**
 * Builds the components from the dev stack's config, with the receivers given (stack config
 * keys) and the scrape interval and escalation delay given: the only two settings the test
 * chooses, both parameters of the renderers.
 */
export async function buildMonitoringStack(receivers: Receivers, timing: { scrapeIntervalSeconds: number; escalationAfterMinutes: number }): Promise<MonitoringStack> {
  const config = loadStackConfig("dev", {
    ...readStackConfig("dev"),
    "fundament:monitoring": JSON.stringify({ scrapeIntervalSeconds: timing.scrapeIntervalSeconds, receivers }),
  });
  const recording = new RecordingRuntime("docker");
  const runtime = new ScrapeTargetRegistry(recording);
  const pki = new PlatformPki("pki", { naming: { target: "docker" }, settings: config.tls });
  const postgres = new Postgres("postgres", {
    runtime,
    image: config.postgres.image,
    exporterImage: config.postgres.exporterImage,
    resources: sizeOf(config.postgres),
    storageGiB: config.postgres.storageGiB,
    maxConnections: config.postgres.maxConnections,
    databases: [{ service: "config", database: "config" }],
    pki,
  });
  const pgbouncer = new PgBouncer("pgbouncer", {
    runtime,
    image: config.pgbouncer.image,
    exporterImage: config.pgbouncer.exporterImage,
    resources: sizeOf(config.pgbouncer),
    postgres,
    defaultPoolSize: config.pgbouncer.defaultPoolSize,
    maxClientConnections: config.pgbouncer.maxClientConnections,
    pki,
  });
  const redis = new Redis("redis", {
    runtime,
    pki,
    image: config.redis.image,
    exporterImage: config.redis.exporterImage,
    resources: sizeOf(config.redis),
    storageGiB: config.redis.storageGiB,
    evictionPolicy: config.redis.evictionPolicy,
    services: ["config"],
  });
  // Every service's queues, as the dev stack declares them (gpu-jobs' command queues and their
  // dead-letter queues), so the per-queue metrics the rules read exist.
  const rabbitmq = new RabbitMQ("rabbitmq", {
    runtime,
    image: config.rabbitmq.image,
    resources: sizeOf(config.rabbitmq),
    storageGiB: config.rabbitmq.storageGiB,
    model: brokerModelFor(["users", "config", "gpu-jobs"], config.rabbitmq.queues),
    managementHost: `rabbitmq.${config.domain}`,
    pki,
  });
  const settings = configSettings(
    { postgres: pgbouncer.connections.config, postgresSession: postgres.sessionConnections.config, redis: redis.connections.config, rabbitmq: rabbitmq.connections.config },
    "users",
  );
  new FastifyService("config", {
    runtime,
    service: "config",
    image: config.services.config.image,
    registry: "local",
    environment: config.environment,
    resources: sizeOf(config.services.config),
    replicas: 1,
    traceSampleRatio: config.monitoring.traceSampleRatio,
    caCertPem: pki.caCertPem,
    leaf: pki.serverLeaf("config"),
    dependsOn: [],
    ...settings,
  });
  new Monitoring("monitoring", {
    runtime,
    environment: config.environment,
    domain: config.domain,
    targets: runtime.targets,
    settings: { ...config.monitoring, escalationAfterMinutes: timing.escalationAfterMinutes },
  });
  const workloads = new Map<string, ResolvedWorkload>();
  for (const workload of recording.deployed) workloads.set(workload.name, await resolve(workload));
  const job = recording.jobs.find((j) => j.name === "config-migrate");
  if (!job) throw new Error("the config service has no migration job");
  return { config, workloads, migration: await resolve(job as Workload) };
}
