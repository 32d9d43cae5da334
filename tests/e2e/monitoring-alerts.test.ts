/*
 * Monitoring end to end, with real programs at the pinned versions: PostgreSQL, PgBouncer, Redis
 * and RabbitMQ with their exporters (RabbitMQ's own Prometheus plugin), the config service as the
 * process its image runs, Prometheus and Alertmanager, and a loopback webhook standing in for the
 * pager, Slack, escalation and dead-man's-switch endpoints.
 *
 * Everything is started from what the components render for the dev stack (monitoring-stack.ts):
 * the exporters' and the service's own args, environment and files, prometheus.yml, the rule file
 * and alertmanager.yml. What changes is where things are: each workload's `name:port` becomes the
 * loopback port it listens on here, each deployed path a path under a temporary directory, and
 * the scrape jobs of the two workloads with no program here (Grafana, Jaeger) are left out.
 *
 * Timing: the rules keep their own `for:` durations (TargetDown and PostgresDown 1m,
 * PostgresExporterErrors 2m); nothing of a rule changes for the test. The two settings the test
 * chooses are renderer parameters: the scrape and evaluation interval at the stack config's
 * minimum (5 s), and the escalation delay at 1 minute (the stack config's minimum is 5) so that
 * the escalation path is seen within the run.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { request as httpsRequest } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { DEFINITIONS_PATH } from "../../components/broker/rabbitmq-conf";
import { RABBITMQ_CONF_PATH, RABBITMQ_TLS_PATHS } from "../../components/broker/rabbitmq";
import { REDIS_ACL_PATH, REDIS_CONF_PATH, REDIS_TLS_PATHS } from "../../components/database/redis/redis-workloads";
import { ALERTS } from "../../components/monitoring/alert-rules";
import { GRAFANA_DASHBOARDS_DIR } from "../../components/monitoring/grafana-provisioning";
import { ALERTMANAGER_CONFIG_PATH, PROMETHEUS_CONFIG_PATH, PROMETHEUS_RULES_PATH } from "../../components/monitoring/monitoring-workloads";
import { SERVICE_CERT_FILE, SERVICE_KEY_FILE } from "../../components/services/fastify-service";
import type { TestLeaf } from "../../scripts/local-servers/test-pki";
import type { ServerName } from "../../components/config/server-versions";
import { listensOn, startOnFreePorts, waitFor } from "../../scripts/local-servers/free-port";
import { harnessCa, harnessLeafName } from "../../scripts/local-servers/harness-ca";
import { startPgBouncer, type PgBouncerServer } from "../../scripts/local-servers/pgbouncer-server";
import { startPostgres, type PostgresServer } from "../../scripts/local-servers/postgres-server";
import { relocatePaths, startPrometheusProcess, type PrometheusProcess } from "../../scripts/local-servers/prometheus-process";
import { startRabbit, type RabbitNode } from "../../scripts/local-servers/rabbitmq-node";
import { startRedis, type RedisServer } from "../../scripts/local-servers/redis-server";
import { chownTo, ownedTempDir, serviceUser } from "../../scripts/local-servers/server-process";
import { testPki } from "../../scripts/local-servers/shared-test-pki";
import { startJwksServer, type JwksServer } from "../../services/config/test/integration/jwks-server";
import { mockComponentEngine } from "../config/component-mocks";
import { startAlertWebhook, type AlertWebhook, type WebhookMessage } from "./alert-webhook";
import { buildMonitoringStack, type MonitoringStack, type ResolvedWorkload } from "./monitoring-stack";
import { metricNamesOf, storedMetricNames } from "./promql-metric-names";

const SCRAPE_INTERVAL_SECONDS = 5;
const ESCALATION_MINUTES = 1;

/** Scrape jobs of workloads that have no program on this machine: not started, not scraped. */
const NOT_RUN: Record<string, string> = {
  grafana: "Grafana has no Debian package; its image is checked against documentation only",
  jaeger: "Jaeger has no Debian package; its image is checked against documentation only",
  cadvisor: "cAdvisor has no Debian package of the pinned line",
};

/** The exporters started from their workloads, by workload name: the pinned program each runs. */
const EXPORTERS: Record<string, ServerName> = {
  "postgres-exporter": "postgresExporter",
  "pgbouncer-exporter": "pgbouncerExporter",
  "redis-exporter": "redisExporter",
  "node-exporter": "nodeExporter",
};

/**
 * Metric names a rule or panel reads that no program here can export, each with the reason. Every
 * other name must be in a real scrape of this run.
 */
const ABSENT_HERE: Record<string, string> = {
  // cAdvisor (Docker) has no Debian package of the pinned line.
  container_start_time_seconds: "cAdvisor",
  container_cpu_usage_seconds_total: "cAdvisor",
  container_memory_working_set_bytes: "cAdvisor",
  container_network_receive_bytes_total: "cAdvisor",
  container_network_transmit_bytes_total: "cAdvisor",
  container_fs_writes_bytes_total: "cAdvisor",
  // kube-state-metrics exists only on Kubernetes.
  kube_pod_container_status_restarts_total: "kube-state-metrics (Kubernetes)",
  // Traefik, Consul, MinIO and MongoDB have no Debian package at their pinned versions.
  traefik_router_requests_total: "Traefik",
  traefik_router_request_duration_seconds_bucket: "Traefik",
  traefik_tls_certs_not_after: "Traefik",
  consul_autopilot_healthy: "Consul",
  consul_serf_member_failed: "Consul",
  minio_node_drive_free_bytes: "MinIO",
  minio_node_drive_total_bytes: "MinIO",
  mongodb_up: "mongodb_exporter (MongoDB has no Debian package)",
  // The gpu-jobs service is not started here: its placement, launch and spend series exist only
  // once a job has been placed on a GPU provider. tests/config/grafana-dashboards.test.ts checks
  // every gpu_jobs_ name and label of its dashboard against the service's own metric registry.
  gpu_jobs_queue_depth: "gpu-jobs service",
  gpu_jobs_queue_oldest_age_seconds: "gpu-jobs service",
  gpu_jobs_placement_seconds_bucket: "gpu-jobs service",
  gpu_jobs_placement_seconds_count: "gpu-jobs service",
  gpu_jobs_launch_attempts_total: "gpu-jobs service",
  gpu_jobs_launch_failures_total: "gpu-jobs service",
  gpu_jobs_spend_usd_total: "gpu-jobs service",
};

/**
 * Host metrics: node-exporter is Debian's and runs here, but only once the dev stack deploys a
 * node-exporter workload; without one nothing of the stack exports these and the host alerts
 * cannot fire. Allowed to be absent only while the stack has no such workload.
 */
const HOST_METRICS_WITHOUT_NODE_EXPORTER: Record<string, string> = {
  node_cpu_seconds_total: "no node-exporter workload in the stack",
  node_memory_MemAvailable_bytes: "no node-exporter workload in the stack",
  node_memory_MemTotal_bytes: "no node-exporter workload in the stack",
  node_filesystem_avail_bytes: "no node-exporter workload in the stack",
  node_filesystem_size_bytes: "no node-exporter workload in the stack",
};

interface RunningService {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  output(): string;
  exited: Promise<number | null>;
}

const secret = () => randomBytes(16).toString("hex");
const serviceDir = join(__dirname, "..", "..", "services", "config");

let webhook: AlertWebhook;
let jwks: JwksServer;
let stack: MonitoringStack;
let postgres: PostgresServer;
let redis: RedisServer;
let rabbit: RabbitNode;
let pgbouncer: PgBouncerServer;
const exporters: Record<string, PrometheusProcess> = {};
let alertmanager: PrometheusProcess;
let prometheus: PrometheusProcess;
let service: RunningService | undefined;
let bundleDir: string | undefined;
let serviceFiles: { path: string; remove: () => void } | undefined;
let redisDir: { path: string; remove: () => void } | undefined;
const keys = { pager: secret(), escalation: secret() };
let startedAt: Date;
let prometheusStartedAt = 0;

/** `name:port` of each workload as deployed → where it listens here. */
const addresses = new Map<string, string>();
function rewriteAddresses(text: string): string {
  return [...addresses.keys()].sort((a, b) => b.length - a.length).reduce((out, from) => out.split(from).join(addresses.get(from)!), text);
}

function workload(name: string): ResolvedWorkload {
  const found = stack.workloads.get(name);
  if (!found) throw new Error(`the stack has no workload ${name}`);
  return found;
}

/**
 * The mock engine's certificates are not real: a delivered platform CA file gets the harness CA,
 * which the local PostgreSQL's and PgBouncer's leaves chain to (for 127.0.0.1, the address every
 * client here dials), so every client still verifies its server.
 */
function withLocalCa<F extends { path: string; content: string }>(file: F): F {
  return /(^|[/-])ca\.crt$/.test(file.path) ? { ...file, content: harnessCa().caPem } : file;
}

let serviceLeafIssued: TestLeaf | undefined;
/**
 * The config service's leaf, of the harness CA, for the names its clients verify: "config"
 * (Prometheus' server_name) and the loopback address the test dials.
 */
function serviceLeaf(): TestLeaf {
  serviceLeafIssued ??= harnessCa().leaf(harnessLeafName("config"), ["config"], { ips: ["127.0.0.1"] });
  return serviceLeafIssued;
}

/** The service's files with the harness CA and a real leaf in place of the mock engine's. */
function withLocalTls<F extends { path: string; content: string }>(file: F): F {
  if (file.path === SERVICE_CERT_FILE) return { ...file, content: serviceLeaf().certPem };
  if (file.path === SERVICE_KEY_FILE) return { ...file, content: serviceLeaf().keyPem };
  return withLocalCa(file);
}

/** A GET to the service's HTTPS listener, verified against the harness CA; resolves the status. */
function serviceGet(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest({ host: "127.0.0.1", port, path, ca: harnessCa().caPem, agent: false }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
    });
    request.on("error", reject);
    request.end();
  });
}

/** A host path mounted into a workload's container (node-exporter reads the host's /proc and /sys). */
interface HostMountView {
  hostPath: string;
  path: string;
}

/**
 * An exporter from its own workload, pointed at the loopback addresses of what it reads. A host
 * mount's container path becomes the host path itself: the test roots see the host's /proc and
 * /sys at their own paths.
 */
function startExporter(name: string, server: ServerName): Promise<PrometheusProcess> {
  const w = workload(name);
  const mounts = [...((w.workload as { hostMounts?: HostMountView[] }).hostMounts ?? [])].sort((a, b) => b.path.length - a.path.length);
  const onHost = (arg: string) => mounts.reduce((out, m) => out.replace(new RegExp(`=${m.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?=/|$)`), `=${m.hostPath}`), arg);
  return startPrometheusProcess({
    server,
    args: w.args.map(rewriteAddresses).map(onHost),
    env: Object.fromEntries(Object.entries(w.env).map(([k, v]) => [k, rewriteAddresses(v)])),
    files: w.files.map((f) => withLocalCa({ ...f, content: rewriteAddresses(f.content) })),
    readyPath: "/metrics",
  });
}

/** The service bundled as its image's build stage does (esbuild), while the servers start. */
function bundleService(): Promise<string> {
  const dir = mkdtempSync(join(serviceDir, ".bundle-test-"));
  bundleDir = dir;
  const child = spawn(process.execPath, [join(serviceDir, "scripts", "bundle.mjs"), bundleDir], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => child.once("exit", (code) => (code === 0 ? resolve(dir) : reject(new Error(`bundling the config service failed: ${stderr}`)))));
}
let bundled: Promise<string>;

/** The service as its image runs it (the esbuild bundle under node) with its workload's environment and files. */
async function startService(): Promise<RunningService> {
  const w = workload("config");
  serviceFiles = ownedTempDir("config-service", undefined);
  const placed = serviceFiles.path;
  for (const file of [...w.files, ...stack.migration.files].map(withLocalTls)) {
    mkdirSync(dirname(`${placed}${file.path}`), { recursive: true });
    writeFileSync(`${placed}${file.path}`, file.content);
    chmodSync(`${placed}${file.path}`, file.mode ?? 0o644);
  }
  const paths = [...w.files, ...stack.migration.files].map((f) => f.path);
  const environment = (env: Record<string, string>): Record<string, string> => {
    const out = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, relocatePaths(rewriteAddresses(v), paths, placed)]));
    // The one address given as two variables.
    if (out.AMQP_HOST === "rabbitmq") Object.assign(out, { AMQP_HOST: testPki().serverName, AMQP_PORT: String(rabbit.amqpPort) });
    // Jaeger does not run here (NOT_RUN): tracing off rather than spans sent nowhere.
    delete out.OTEL_EXPORTER_OTLP_ENDPOINT;
    return { PATH: process.env.PATH ?? "", ...out, HOST: "127.0.0.1", LOG_LEVEL: "warn" };
  };
  const bundle = await bundled;
  const migrated = spawnSync(process.execPath, [join(bundle, "migrate.js")], { env: environment(stack.migration.env), encoding: "utf8", timeout: 120_000 });
  if (migrated.status !== 0) throw new Error(`the config service's migration job failed: ${migrated.stdout}${migrated.stderr}`);
  return startOnFreePorts(2, async ([port, metricsPort]) => {
    const child = spawn(process.execPath, [join(bundle, "server.js")], {
      env: { ...environment(w.env), PORT: String(port), METRICS_PORT: String(metricsPort) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000)));
    child.stderr?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000)));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await waitFor(
        "the config service to be ready",
        async () => {
          if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output}`);
          return child.pid !== undefined && listensOn(child.pid, port) && (await serviceGet(port, "/health/ready").catch(() => 0)) === 200;
        },
        90_000,
        250,
      );
    } catch (error) {
      child.kill("SIGKILL");
      await exited;
      throw error;
    }
    return { child, port, metricsPort, output: () => output, exited };
  });
}

/** prometheus.yml as rendered, with each target and Alertmanager at its loopback address and the jobs of NOT_RUN left out. */
function localPrometheusConfig(rendered: string): string {
  const config = parse(rendered) as {
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  };
  config.scrape_configs = config.scrape_configs.filter((job) => !(job.job_name in NOT_RUN));
  for (const job of config.scrape_configs) for (const s of job.static_configs) s.targets = s.targets.map(rewriteAddresses);
  for (const am of config.alerting.alertmanagers) for (const s of am.static_configs) s.targets = s.targets.map(rewriteAddresses);
  return `# prometheus.yml as rendered, addresses moved to loopback by the test\n${stringify(config, { lineWidth: 0 })}`;
}

async function prometheusApi<T>(path: string): Promise<T> {
  const answer = (await (await fetch(`${prometheus.url}${path}`)).json()) as { status: string; data: T };
  if (answer.status !== "success") throw new Error(`${path}: ${JSON.stringify(answer)}`);
  return answer.data;
}

interface ActiveTarget {
  labels: Record<string, string>;
  health: string;
  lastError: string;
  scrapeUrl: string;
}

async function targets(): Promise<ActiveTarget[]> {
  return (await prometheusApi<{ activeTargets: ActiveTarget[] }>("/api/v1/targets?state=active")).activeTargets;
}

beforeAll(async () => {
  startedAt = new Date();
  await mockComponentEngine();
  webhook = await startAlertWebhook();
  stack = await buildMonitoringStack(
    {
      pager: { url: `${webhook.url}/pager`, key: keys.pager },
      slack: { webhookUrl: `${webhook.url}/slack` },
      escalation: { url: `${webhook.url}/escalation`, key: keys.escalation },
      deadMansSwitch: { url: `${webhook.url}/dead-mans-switch` },
    },
    { scrapeIntervalSeconds: SCRAPE_INTERVAL_SECONDS, escalationAfterMinutes: ESCALATION_MINUTES },
  );

  bundled = bundleService();
  // Awaited in startService; a failure before then must not go unhandled.
  bundled.catch(() => undefined);
  const pg = workload("postgres");
  const redisWorkload = workload("redis");
  const rabbitWorkload = workload("rabbitmq");
  redisDir = ownedTempDir("redis-acl", serviceUser("redis"));
  const aclPath = join(redisDir.path, "users.acl");
  writeFileSync(aclPath, redisWorkload.file(REDIS_ACL_PATH), { mode: 0o644 });
  chownTo(aclPath, serviceUser("redis"));
  const redisTls = testPki().filesFor(redisDir.path, serviceUser("redis"));
  const [pgResult, redisResult, rabbitResult, jwksResult] = await Promise.allSettled([
    startPostgres({
      conf: pg.file("/etc/postgresql/postgresql.conf"),
      hba: pg.file("/etc/postgresql/pg_hba.conf"),
      initSql: [pg.file("/docker-entrypoint-initdb.d/10-fundament.sql")],
    }),
    startRedis(
      redisWorkload
        .file(REDIS_CONF_PATH)
        .replace(`aclfile ${REDIS_ACL_PATH}`, `aclfile ${aclPath}`)
        .replace("dir /data", `dir ${redisDir.path}`)
        .replace(REDIS_TLS_PATHS.ca, redisTls.caFile)
        .replace(REDIS_TLS_PATHS.cert, redisTls.certFile)
        .replace(REDIS_TLS_PATHS.key, redisTls.keyFile),
    ),
    startRabbit({
      conf: (tls) =>
        rabbitWorkload
          .file(RABBITMQ_CONF_PATH)
          .replaceAll(RABBITMQ_TLS_PATHS.ca, tls.caFile)
          .replaceAll(RABBITMQ_TLS_PATHS.cert, tls.certFile)
          .replaceAll(RABBITMQ_TLS_PATHS.key, tls.keyFile),
      definitions: rabbitWorkload.file(DEFINITIONS_PATH),
    }),
    // The users service's JWKS over HTTPS, as on the stack (JWKS_URL https, JWKS_CA_FILE the platform CA).
    startJwksServer({ issuer: "fundament-users", audience: "fundament", tls: { cert: serviceLeaf().certPem, key: serviceLeaf().keyPem } }),
  ]);
  if (pgResult.status === "fulfilled") postgres = pgResult.value;
  if (redisResult.status === "fulfilled") redis = redisResult.value;
  if (rabbitResult.status === "fulfilled") rabbit = rabbitResult.value;
  if (jwksResult.status === "fulfilled") jwks = jwksResult.value;
  for (const result of [pgResult, redisResult, rabbitResult, jwksResult]) if (result.status === "rejected") throw result.reason;

  addresses.set("postgres:5432", `127.0.0.1:${postgres.port}`);
  // TLS servers by the name their leaf carries, so clients verify it as they do on the stack.
  addresses.set("redis:6379", `${testPki().serverName}:${redis.port}`);
  addresses.set("rabbitmq:5671", `${testPki().serverName}:${rabbit.amqpPort}`);
  addresses.set("rabbitmq:15671", `${testPki().serverName}:${rabbit.managementPort}`);
  addresses.set("rabbitmq:15692", `127.0.0.1:${rabbit.prometheusPort}`);
  addresses.set("users:8080", new URL(jwks.url).host);

  const bouncerWorkload = workload("pgbouncer");
  pgbouncer = await startPgBouncer({
    ini: bouncerWorkload.file("/etc/pgbouncer/pgbouncer.ini").replace(/host=postgres port=5432/g, `host=127.0.0.1 port=${postgres.port}`),
    userlist: bouncerWorkload.file("/etc/pgbouncer/userlist.txt"),
  });
  addresses.set("pgbouncer:6432", `127.0.0.1:${pgbouncer.port}`);

  const present = Object.entries(EXPORTERS).filter(([name]) => stack.workloads.has(name));
  const started = await Promise.allSettled(present.map(([name, server]) => startExporter(name, server)));
  present.forEach(([name], i) => {
    const result = started[i];
    if (result.status === "fulfilled") exporters[name] = result.value;
  });
  for (const result of started) if (result.status === "rejected") throw result.reason;
  for (const [name, exporter] of Object.entries(exporters)) addresses.set(`${name}:${workload(name).workload.metrics!.port}`, `127.0.0.1:${exporter.port}`);

  const am = workload("alertmanager");
  alertmanager = await startPrometheusProcess({ server: "alertmanager", args: am.args, files: am.files, dirs: ["/alertmanager"], readyPath: "/-/ready" });
  addresses.set(`alertmanager:${am.workload.metrics!.port}`, `127.0.0.1:${alertmanager.port}`);

  service = await startService();
  addresses.set(`config:${workload("config").workload.metrics!.port}`, `127.0.0.1:${service.metricsPort}`);

  const prom = workload("prometheus");
  prometheus = await startPrometheusProcess({
    server: "prometheus",
    args: prom.args,
    // The platform CA it verifies the service's metrics listener against: the harness CA here.
    files: prom.files.map((f) => (f.path === PROMETHEUS_CONFIG_PATH ? { ...f, content: localPrometheusConfig(f.content) } : withLocalCa(f))),
    dirs: ["/prometheus"],
    ownAddress: `prometheus:${prom.workload.metrics!.port}`,
    readyPath: "/-/ready",
  });
  prometheusStartedAt = Date.now();
}, 300_000);

afterAll(async () => {
  if (service && service.child.exitCode === null) {
    service.child.kill("SIGKILL");
    await service.exited;
  }
  await Promise.allSettled([prometheus?.destroy(), alertmanager?.destroy(), ...Object.values(exporters).map((e) => e.destroy())]);
  await Promise.allSettled([pgbouncer?.destroy(), postgres?.destroy(), redis?.destroy(), rabbit?.destroy(), jwks?.close(), webhook?.close()]);
  redisDir?.remove();
  serviceFiles?.remove();
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
}, 120_000);

/** Alert names a Slack message is about: whose summary template its title matches. */
function slackAlertNames(title: string | undefined): string[] {
  return ALERTS.filter((rule) => {
    const pattern = rule.summary.split(/\{\{[^}]*\}\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*");
    return new RegExp(`^${pattern}$`).test(title ?? "");
  }).map((rule) => rule.alert);
}

function firstDelivery(path: string, match: (alert: WebhookMessage["alerts"][number]) => boolean): { at: number; authorization: string | undefined } | undefined {
  return webhook.webhooks(path).find((d) => d.body.alerts?.some((a) => a.status === "firing" && match(a)));
}

describe("monitoring end to end", () => {
  it("scrapes every target of the rendered prometheus.yml, and each is up", async () => {
    await waitFor(
      "every target up",
      async () => {
        const all = await targets();
        return all.length > 0 && all.every((t) => t.health === "up");
      },
      90_000,
      1000,
    ).catch(async (error: unknown) => {
      const down = (await targets()).filter((t) => t.health !== "up").map((t) => `${t.labels.job} ${t.scrapeUrl}: ${t.health} ${t.lastError}`);
      throw new Error(`${String(error)}\n${down.join("\n")}`);
    });
    const jobs = (await targets()).map((t) => t.labels.job).sort();
    // Every job of the rendered prometheus.yml runs here, but those of NOT_RUN.
    const rendered = (parse(workload("prometheus").file(PROMETHEUS_CONFIG_PATH)) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((j) => j.job_name);
    expect(jobs).toEqual(rendered.filter((job) => !(job in NOT_RUN)).sort());
    expect(jobs).toEqual(expect.arrayContaining(["alertmanager", "config", "pgbouncer-exporter", "postgres-exporter", "prometheus", "rabbitmq", "redis-exporter"]));
    for (const t of await targets()) expect(t.labels, t.labels.job).toMatchObject({ environment: "dev", zone: "monitoring" });
  }, 120_000);

  it("every metric name a rule or a dashboard panel reads is in a real scrape (or named, with its reason, as exported by no program here)", async () => {
    // The service's request histograms exist once it has answered a request.
    for (const path of ["/namespaces/e2e", "/namespaces/e2e/environments/dev", "/health/ready"]) await serviceGet(service!.port, path);
    const sources: { where: string; expr: string }[] = [];
    const rules = parse(workload("prometheus").file(PROMETHEUS_RULES_PATH)) as { groups: { rules: { alert: string; expr: string }[] }[] };
    for (const group of rules.groups) for (const rule of group.rules) sources.push({ where: `alert ${rule.alert}`, expr: rule.expr });
    for (const file of workload("grafana").files.filter((f) => f.path.startsWith(`${GRAFANA_DASHBOARDS_DIR}/`))) {
      const board = JSON.parse(file.content) as { title: string; panels: { title: string; targets?: { expr: string }[] }[] };
      for (const panel of board.panels) for (const target of panel.targets ?? []) sources.push({ where: `dashboard ${board.title}: ${panel.title}`, expr: target.expr });
    }
    expect(sources.length).toBeGreaterThan(60);
    const used = new Map<string, string[]>();
    for (const { where, expr } of sources) for (const name of await metricNamesOf(prometheus.url, expr)) used.set(name, [...(used.get(name) ?? []), where]);

    const absentHere = { ...ABSENT_HERE, ...(stack.workloads.has("node-exporter") ? {} : HOST_METRICS_WITHOUT_NODE_EXPORTER) };
    const missing = async (): Promise<string[]> => {
      const stored = await storedMetricNames(prometheus.url, startedAt);
      return [...used.keys()].filter((name) => !stored.has(name) && !(name in absentHere)).map((name) => `${name} (${used.get(name)!.join("; ")})`);
    };
    // A scrape after the requests above carries their histograms.
    await waitFor("every used metric in a scrape", async () => (await missing()).length === 0, 4 * SCRAPE_INTERVAL_SECONDS * 1000, 1000).catch(() => undefined);
    expect(await missing()).toEqual([]);
    // The allowed absences are read by something and really absent: no stale entry hides a name.
    const stored = await storedMetricNames(prometheus.url, startedAt);
    for (const name of Object.keys(absentHere)) {
      expect(used.has(name), `${name} is allowed to be absent but nothing reads it`).toBe(true);
      expect(stored.has(name), `${name} is allowed to be absent but a scrape has it: take it off the list`).toBe(false);
    }
    // The check can fail: a misspelt name is not in any scrape, and a name inside a range is found.
    expect(await metricNamesOf(prometheus.url, 'sum(rate(pg_stat_database_deadlockz[5m])) / pg_upp{job="x"} > 0')).toEqual(["pg_stat_database_deadlockz", "pg_upp"]);
    expect(stored.has("pg_upp")).toBe(false);
    const absent = [...used.keys()].filter((name) => name in absentHere).length;
    console.log(`[monitoring e2e] ${used.size} metric names read by ${sources.length} rule and panel expressions: ${used.size - absent} seen in real scrapes, ${absent} exported by no program run here (${[...new Set(Object.values(absentHere))].join(", ")})`);
  }, 120_000);

  it("stopping the config service, PgBouncer and PostgreSQL pages for each, escalates, and mutes the warnings PostgreSQL's outage causes", async () => {
    const stoppedAt = Date.now();
    service!.child.kill("SIGTERM");
    await Promise.all([postgres.stop(), pgbouncer.stop(), service!.exited]);

    const paged = {
      "TargetDown (config service, SIGTERM)": (a: WebhookMessage["alerts"][number]) => a.labels.alertname === "TargetDown" && a.labels.job === "config",
      "PostgresDown (PostgreSQL, fast shutdown)": (a: WebhookMessage["alerts"][number]) => a.labels.alertname === "PostgresDown",
      "PgBouncerDown (PgBouncer, SIGTERM)": (a: WebhookMessage["alerts"][number]) => a.labels.alertname === "PgBouncerDown",
    };
    await waitFor("each outage's alert at the pager webhook", async () => Object.values(paged).every((match) => firstDelivery("/pager", match) !== undefined), 180_000, 500).catch((error: unknown) => {
      const seen = webhook.webhooks("/pager").flatMap((d) => d.body.alerts.map((a) => `${a.labels.alertname}/${a.labels.job}`));
      throw new Error(`${String(error)}; the pager webhook saw: ${seen.join(", ") || "nothing"}`);
    });
    const times: string[] = [];
    for (const [what, match] of Object.entries(paged)) {
      const delivery = firstDelivery("/pager", match)!;
      expect(delivery.authorization, what).toBe(`Bearer ${keys.pager}`);
      times.push(`${what} ${((delivery.at - stoppedAt) / 1000).toFixed(1)} s`);
    }
    console.log(`[monitoring e2e] stop to webhook: ${times.join("; ")}`);

    // The warning PostgreSQL's outage raises on the same target: firing in Prometheus, held by
    // Alertmanager as inhibited by PostgresDown, and never sent.
    await waitFor(
      "PostgresExporterErrors firing in Prometheus",
      async () => (await prometheusApi<{ alerts: { labels: Record<string, string>; state: string }[] }>("/api/v1/alerts")).alerts.some((a) => a.labels.alertname === "PostgresExporterErrors" && a.state === "firing"),
      200_000,
      1000,
    );
    let inhibitedSince = 0;
    await waitFor(
      "Alertmanager to hold PostgresExporterErrors as inhibited",
      async () => {
        const alerts = (await (await fetch(`${alertmanager.url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }[];
        const warning = alerts.find((a) => a.labels.alertname === "PostgresExporterErrors");
        if (warning && warning.status.state === "suppressed" && warning.status.inhibitedBy.length > 0) inhibitedSince = Date.now();
        return inhibitedSince > 0;
      },
      60_000,
      500,
    );
    const warningRoute = (parse(workload("alertmanager").file(ALERTMANAGER_CONFIG_PATH)) as { route: { routes: { matchers: string[]; group_wait?: string }[] } }).route.routes.find((r) => r.matchers.includes('severity="warning"'))!;
    const groupWaitMs = Number(/^(\d+)s$/.exec(warningRoute.group_wait ?? "")?.[1] ?? NaN) * 1000;
    expect(groupWaitMs).toBeGreaterThan(0);
    // Past the warning route's group_wait (and one evaluation more), an uninhibited warning would have been sent.
    await new Promise((r) => setTimeout(r, groupWaitMs + 2 * SCRAPE_INTERVAL_SECONDS * 1000));
    const slackAlerts = webhook.slack("/slack").flatMap((d) => (d.body.attachments ?? []).flatMap((a) => slackAlertNames(a.title)));
    expect(slackAlerts).toContain("PostgresDown");
    expect(slackAlerts).not.toContain("PostgresExporterErrors");

    // Escalation: each critical alert still firing after the delay re-notifies the escalation receiver.
    await waitFor(
      "CriticalUnresolved for PostgresDown and TargetDown at the escalation webhook",
      async () =>
        firstDelivery("/escalation", (a) => a.labels.escalated_alert === "PostgresDown") !== undefined &&
        firstDelivery("/escalation", (a) => a.labels.escalated_alert === "TargetDown" && a.labels.job === "config") !== undefined,
      120_000,
      500,
    ).catch((error: unknown) => {
      const seen = webhook.webhooks("/escalation").flatMap((d) => d.body.alerts.map((a) => `${a.labels.alertname}/${a.labels.escalated_alert}/${a.labels.job}`));
      throw new Error(`${String(error)}; the escalation webhook saw: ${seen.join(", ") || "nothing"}`);
    });
    const escalated = firstDelivery("/escalation", (a) => a.labels.escalated_alert === "PostgresDown")!;
    expect(escalated.authorization).toBe(`Bearer ${keys.escalation}`);
    console.log(`[monitoring e2e] stop to escalation webhook: CriticalUnresolved(PostgresDown) ${((escalated.at - stoppedAt) / 1000).toFixed(1)} s`);
  }, 420_000);

  it("Watchdog reaches the dead-man's switch as soon as Prometheus runs, and then every group interval of its route", () => {
    const route = (parse(workload("alertmanager").file(ALERTMANAGER_CONFIG_PATH)) as { route: { routes: { matchers: string[]; group_interval?: string }[] } }).route.routes.find((r) => r.matchers.includes('alertname="Watchdog"'))!;
    const everyMs = Number(/^(\d+)m$/.exec(route.group_interval ?? "")?.[1] ?? NaN) * 60_000;
    expect(everyMs).toBeGreaterThan(0);
    const arrivals = webhook.webhooks("/dead-mans-switch").filter((d) => d.body.alerts?.some((a) => a.labels.alertname === "Watchdog" && a.status === "firing")).map((d) => d.at);
    const gaps = [...arrivals.slice(1).map((at, i) => at - arrivals[i]), Date.now() - arrivals[arrivals.length - 1]];
    console.log(`[monitoring e2e] Watchdog: first ${((arrivals[0] - prometheusStartedAt) / 1000).toFixed(1)} s after Prometheus started, then ${arrivals.length - 1} more; seconds between them (the last up to now): ${gaps.map((g) => (g / 1000).toFixed(1)).join(", ")}`);
    // Prometheus sends a firing alert again every --rules.alert.resend-delay (1m by default); in
    // these runs the first Watchdog reached the webhook 60 to 70 s after Prometheus started.
    expect(arrivals[0] - prometheusStartedAt).toBeLessThan(90_000);
    expect(arrivals.length).toBeGreaterThanOrEqual(2);
    // Each within the route's group interval, plus what one flush may be late by.
    for (const gap of gaps) expect(gap).toBeLessThan(everyMs + 15_000);
  });
});
