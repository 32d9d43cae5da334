import { stringify } from "yaml";
import { LONG_POLL_ROUTER_SUFFIX } from "../edge/traefik-dynamic";
import { LONG_POLL_ROUTES } from "../services/long-poll-routes";

export type Severity = "critical" | "warning" | "info";

/** One alert as code: the rule, what it means and where its runbook section is. */
export interface AlertRule {
  alert: string;
  expr: string;
  /** How long the condition must hold; omitted: fires on the first evaluation. */
  for?: string;
  severity: Severity;
  summary: string;
  description: string;
  /** Labels besides severity (routing hints such as escalate). */
  labels?: Record<string, string>;
}

export interface AlertGroup {
  name: string;
  rules: AlertRule[];
}

/** The labels every scrape target carries: aggregations keep them so inhibition can match a target. */
export const TARGET_LABELS = "environment, job, instance, service, zone, role";
const BY_TARGET = `by (${TARGET_LABELS})`;
const ON_TARGET = `on (${TARGET_LABELS})`;

/** A PromQL regex alternation of literal strings (RE2 metacharacters escaped, backslashes doubled for the string literal). */
const literalAlternation = (values: readonly string[]) => values.map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, "\\\\$&")).join("|");
/** Long polls wait on purpose (components/services/long-poll-routes.ts): a quiet service whose traffic is mostly watches would page for a slow p99. */
const NOT_LONG_POLL = `route!~"${literalAlternation(LONG_POLL_ROUTES)}"`;
/** The gateway's routers of long polls: the same wait, seen by Traefik. */
const NOT_LONG_POLL_ROUTER = `router!~".*${LONG_POLL_ROUTER_SUFFIX}@.*"`;

/** Hours a backup may be old before the alert: a daily schedule plus an hour of slack. */
export const BACKUP_MAX_AGE_SECONDS = 25 * 3600;

export const ALERT_GROUPS: AlertGroup[] = [
  {
    name: "platform",
    rules: [
      {
        alert: "Watchdog",
        expr: "vector(1)",
        severity: "info",
        summary: "The alerting pipeline is alive",
        description: "Always firing. The dead-man's-switch receiver raises an alarm when it stops arriving: Prometheus, Alertmanager or the path between them is broken.",
      },
      {
        alert: "TargetDown",
        // Data servers that export their own metrics (RabbitMQ, MinIO) have their own down alert.
        expr: 'up{role!="data"} == 0',
        for: "1m",
        severity: "critical",
        summary: "{{ $labels.job }} target {{ $labels.instance }} is down",
        description: "Prometheus has not scraped {{ $labels.instance }} of {{ $labels.job }} for a minute: the process is stopped, crashed or unreachable from the monitoring zone.",
      },
    ],
  },
  {
    name: "postgres",
    rules: [
      {
        alert: "PostgresDown",
        expr: "pg_up == 0",
        for: "1m",
        severity: "critical",
        summary: "PostgreSQL behind {{ $labels.instance }} is down",
        description: "postgres_exporter cannot connect to PostgreSQL: every service's database is unavailable.",
      },
      {
        alert: "PostgresExporterErrors",
        expr: "pg_exporter_last_scrape_error == 1",
        for: "2m",
        severity: "warning",
        summary: "postgres_exporter {{ $labels.instance }} fails to read PostgreSQL",
        description: "The last scrape of PostgreSQL's statistics failed; the database metrics are stale.",
      },
      {
        alert: "PostgresConnectionsNearLimit",
        expr: `sum ${BY_TARGET} (pg_stat_activity_count) / ${ON_TARGET} max ${BY_TARGET} (pg_settings_max_connections) > 0.8`,
        for: "5m",
        severity: "warning",
        summary: "PostgreSQL uses {{ $value | humanizePercentage }} of max_connections",
        description: "Past max_connections, new connections (PgBouncer's server connections, migrations, backups) are refused.",
      },
      {
        alert: "PostgresDeadlocks",
        expr: `sum by (${TARGET_LABELS}, datname) (increase(pg_stat_database_deadlocks[10m])) > 0`,
        severity: "warning",
        summary: "Deadlocks in database {{ $labels.datname }}",
        description: "PostgreSQL aborted {{ $value }} transactions in the last 10 minutes to break deadlocks.",
      },
      {
        alert: "PostgresBackupTooOld",
        expr: `time() - fundament_backup_last_success_timestamp_seconds > ${BACKUP_MAX_AGE_SECONDS}`,
        for: "10m",
        severity: "warning",
        summary: "The last successful PostgreSQL backup is older than a day",
        description: "No logical backup has completed in the last 25 hours (0 before the first backup ever): a restore would lose more than a day.",
      },
      {
        alert: "PgBouncerDown",
        expr: "pgbouncer_up == 0",
        for: "1m",
        severity: "critical",
        summary: "PgBouncer behind {{ $labels.instance }} is down",
        description: "pgbouncer_exporter cannot reach PgBouncer's admin console: every service reaches PostgreSQL through PgBouncer, so every database call fails.",
      },
      {
        alert: "PgBouncerClientsWaiting",
        expr: `sum by (${TARGET_LABELS}, database) (pgbouncer_pools_client_waiting_connections) > 0`,
        for: "2m",
        severity: "warning",
        summary: "Clients wait for a server connection in PgBouncer pool {{ $labels.database }}",
        description: "Every server connection of the pool is busy and clients queue: queries are slow or the pool is too small.",
      },
    ],
  },
  {
    name: "redis",
    rules: [
      {
        alert: "RedisDown",
        expr: "redis_up == 0",
        for: "1m",
        severity: "critical",
        summary: "Redis behind {{ $labels.instance }} is down",
        description: "redis_exporter cannot reach Redis: sessions, caches and rate limits are unavailable.",
      },
      {
        alert: "RedisMemoryNearMax",
        expr: "redis_memory_used_bytes / (redis_memory_max_bytes > 0) > 0.9",
        for: "5m",
        severity: "warning",
        summary: "Redis uses {{ $value | humanizePercentage }} of maxmemory",
        description: "At maxmemory Redis evicts keys or, with noeviction, refuses writes.",
      },
      {
        alert: "RedisRejectedConnections",
        expr: "increase(redis_rejected_connections_total[5m]) > 0",
        severity: "warning",
        summary: "Redis rejected connections",
        description: "Redis refused {{ $value }} connections in the last 5 minutes because maxclients was reached.",
      },
      {
        alert: "RedisAofWriteErrors",
        expr: "redis_aof_last_write_status == 0",
        severity: "critical",
        summary: "Redis cannot write its append-only file",
        description: "The last AOF write failed: Redis refuses writes until the disk accepts them again.",
      },
    ],
  },
  {
    name: "rabbitmq",
    rules: [
      {
        alert: "RabbitMQDown",
        expr: 'up{service="rabbitmq"} == 0',
        for: "1m",
        severity: "critical",
        summary: "RabbitMQ {{ $labels.instance }} is down",
        description: "The broker's metrics endpoint does not answer: events are neither published nor consumed.",
      },
      {
        alert: "RabbitMQMemoryAlarm",
        expr: "rabbitmq_alarms_memory_used_watermark == 1",
        severity: "critical",
        summary: "RabbitMQ memory alarm on {{ $labels.instance }}",
        description: "RabbitMQ passed its memory high watermark and blocks every publishing connection.",
      },
      {
        alert: "RabbitMQDiskAlarm",
        expr: "rabbitmq_alarms_free_disk_space_watermark == 1",
        severity: "critical",
        summary: "RabbitMQ disk alarm on {{ $labels.instance }}",
        description: "Free disk space is below RabbitMQ's limit; it blocks every publishing connection.",
      },
      {
        alert: "RabbitMQDeadLetters",
        expr: `sum by (${TARGET_LABELS}, vhost, queue) (rabbitmq_queue_messages{queue=~".+\\\\.dlq"}) > 0`,
        severity: "warning",
        summary: "{{ $value }} messages in dead-letter queue {{ $labels.queue }}",
        description: "Messages that exhausted their delivery limit or expired wait in {{ $labels.queue }} for someone to look at them.",
      },
      {
        alert: "RabbitMQBacklogGrowing",
        expr: `sum by (${TARGET_LABELS}, vhost, queue) (deriv(rabbitmq_queue_messages_ready{queue!~".+\\\\.dlq"}[10m])) > 0 and sum by (${TARGET_LABELS}, vhost, queue) (rabbitmq_queue_messages_ready) > 100`,
        for: "15m",
        severity: "warning",
        summary: "Backlog of queue {{ $labels.queue }} keeps growing",
        description: "More than 100 ready messages and rising for 15 minutes: consumers are down or slower than producers.",
      },
    ],
  },
  {
    name: "mongodb",
    rules: [
      {
        alert: "MongoDown",
        expr: "mongodb_up == 0",
        for: "1m",
        severity: "critical",
        summary: "MongoDB behind {{ $labels.instance }} is down",
        description: "mongodb_exporter cannot reach MongoDB.",
      },
    ],
  },
  {
    name: "storage",
    rules: [
      {
        alert: "MinioDown",
        expr: 'up{service="minio"} == 0',
        for: "1m",
        severity: "critical",
        summary: "MinIO {{ $labels.instance }} is down",
        description: "The object store's metrics endpoint does not answer: backups cannot be uploaded.",
      },
      {
        alert: "MinioDiskNearlyFull",
        expr: "minio_node_drive_free_bytes / minio_node_drive_total_bytes < 0.1",
        for: "10m",
        severity: "warning",
        summary: "MinIO drive {{ $labels.drive }} has {{ $value | humanizePercentage }} free",
        description: "Below 10% free; MinIO refuses writes once the drive is full.",
      },
      {
        alert: "VolumeNearlyFull",
        expr: 'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs|ramfs"} / node_filesystem_size_bytes < 0.1',
        for: "10m",
        severity: "warning",
        summary: "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} free",
        description: "Volumes of the data services live on this filesystem; a full disk stops PostgreSQL, Redis AOF and RabbitMQ.",
      },
    ],
  },
  {
    name: "gateway",
    rules: [
      {
        alert: "GatewayErrorRatio",
        expr: 'sum by (environment, router) (rate(traefik_router_requests_total{code=~"5.."}[5m])) / sum by (environment, router) (rate(traefik_router_requests_total[5m])) > 0.05',
        for: "5m",
        severity: "warning",
        summary: "{{ $value | humanizePercentage }} of requests on router {{ $labels.router }} fail with 5xx",
        description: "More than 5% of the router's responses are server errors.",
      },
      {
        alert: "GatewayLatencyP99",
        expr: `histogram_quantile(0.99, sum by (environment, router, le) (rate(traefik_router_request_duration_seconds_bucket{${NOT_LONG_POLL_ROUTER}}[5m]))) > 1`,
        for: "5m",
        severity: "warning",
        summary: "p99 latency of router {{ $labels.router }} is {{ $value | humanizeDuration }}",
        description: "One request in a hundred takes longer than a second through the gateway.",
      },
      {
        alert: "CertificateExpiring",
        expr: "(traefik_tls_certs_not_after - time()) / 86400 < 14",
        severity: "warning",
        summary: "Certificate {{ $labels.cn }} expires in {{ $value | humanize }} days",
        description: "A certificate the gateway serves expires within 14 days and has not been renewed.",
      },
    ],
  },
  {
    name: "discovery",
    rules: [
      {
        alert: "ConsulUnhealthy",
        expr: "consul_autopilot_healthy == 0",
        for: "2m",
        severity: "critical",
        summary: "Consul reports its servers unhealthy",
        description: "Autopilot considers the Consul server set unhealthy: service discovery and health checks are unreliable.",
      },
      {
        alert: "ConsulMemberFailed",
        expr: "increase(consul_serf_member_failed[10m]) > 0",
        severity: "warning",
        summary: "A Consul member failed",
        description: "Gossip marked a member as failed in the last 10 minutes; its services drop out of discovery.",
      },
    ],
  },
  {
    name: "services",
    rules: [
      {
        alert: "ServiceErrorRatio",
        expr: 'sum by (environment, service) (rate(http_request_duration_seconds_count{status_class="5xx"}[5m])) / sum by (environment, service) (rate(http_request_duration_seconds_count[5m])) > 0.05',
        for: "5m",
        severity: "warning",
        summary: "{{ $value | humanizePercentage }} of {{ $labels.service }}'s requests fail with 5xx",
        description: "More than 5% of the service's responses are server errors.",
      },
      {
        alert: "ServiceLatencyP99",
        expr: `histogram_quantile(0.99, sum by (environment, service, le) (rate(http_request_duration_seconds_bucket{${NOT_LONG_POLL}}[5m]))) > 1`,
        for: "5m",
        severity: "warning",
        summary: "p99 latency of {{ $labels.service }} is {{ $value | humanizeDuration }}",
        description: "One request in a hundred takes longer than a second (long polls, which wait on purpose, left out).",
      },
      {
        alert: "ServiceNotReady",
        expr: 'fundament_service_ready{role="service"} == 0',
        for: "2m",
        severity: "warning",
        summary: "{{ $labels.service }} instance {{ $labels.instance }} is not ready",
        description: "The instance's readiness check fails: a dependency is unreachable, so it receives no traffic.",
      },
    ],
  },
  {
    name: "containers",
    rules: [
      {
        alert: "ContainerRestarting",
        expr: 'changes(container_start_time_seconds{name=~".+"}[15m]) > 2',
        severity: "warning",
        summary: "Container {{ $labels.name }} restarted {{ $value }} times in 15 minutes",
        description: "The container keeps crashing and being restarted by Docker.",
      },
      {
        alert: "PodRestarting",
        expr: "increase(kube_pod_container_status_restarts_total[15m]) > 2",
        severity: "warning",
        summary: "Container {{ $labels.container }} of pod {{ $labels.pod }} restarted {{ $value }} times in 15 minutes",
        description: "The container keeps crashing and being restarted by the kubelet.",
      },
    ],
  },
  {
    name: "hosts",
    rules: [
      {
        alert: "HostCpuHigh",
        expr: '1 - avg by (environment, job, instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > 0.9',
        for: "15m",
        severity: "warning",
        summary: "Host {{ $labels.instance }} CPU is {{ $value | humanizePercentage }} busy",
        description: "The host has been more than 90% busy for 15 minutes; every workload on it slows down.",
      },
      {
        alert: "HostMemoryLow",
        expr: "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.1",
        for: "10m",
        severity: "warning",
        summary: "Host {{ $labels.instance }} has {{ $value | humanizePercentage }} memory available",
        description: "Below 10% available memory the kernel starts killing processes.",
      },
    ],
  },
];

/**
 * Escalation: a critical alert still firing after the delay raises CriticalUnresolved, which
 * Alertmanager routes to the escalation receiver. Built on Prometheus's own ALERTS series, so
 * every critical rule escalates without a second copy of its expression.
 */
export function escalationGroup(afterMinutes: number): AlertGroup {
  return {
    name: "escalation",
    rules: [
      {
        alert: "CriticalUnresolved",
        expr: 'label_replace(ALERTS{alertstate="firing", severity="critical", alertname!="CriticalUnresolved"}, "escalated_alert", "$1", "alertname", "(.+)")',
        for: `${afterMinutes}m`,
        severity: "critical",
        labels: { escalate: "true" },
        summary: `{{ $labels.escalated_alert }} has been firing for over ${afterMinutes} minutes`,
        description: "A critical alert is still unresolved after the escalation delay; the escalation receiver is notified.",
      },
    ],
  };
}

export interface AlertRulesInput {
  /** Minutes a critical alert may stay unresolved before it escalates. */
  escalationAfterMinutes: number;
}

export function alertGroups(input: AlertRulesInput): AlertGroup[] {
  return [...ALERT_GROUPS, escalationGroup(input.escalationAfterMinutes)];
}

/** Every alert name, with the escalation alert (its delay does not change its name). */
export const ALERTS: AlertRule[] = alertGroups({ escalationAfterMinutes: 30 }).flatMap((g) => g.rules);

/** The anchor of an alert's section in docs/runbooks.md (GitHub's heading slug). */
export function runbookAnchor(alert: string): string {
  return alert.toLowerCase();
}

/** One Prometheus rule file holding every group. */
export function renderAlertRules(input: AlertRulesInput): string {
  const document = {
    groups: alertGroups(input).map((group) => ({
      name: group.name,
      rules: group.rules.map((rule) => ({
        alert: rule.alert,
        expr: rule.expr,
        ...(rule.for ? { for: rule.for } : {}),
        labels: { severity: rule.severity, ...rule.labels },
        annotations: { summary: rule.summary, description: rule.description, runbook: `docs/runbooks.md#${runbookAnchor(rule.alert)}` },
      })),
    })),
  };
  return `# Rendered by fundament (components/monitoring/alert-rules.ts).\n${stringify(document, { lineWidth: 0 })}`;
}
