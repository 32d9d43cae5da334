/**
 * promtool unit-test cases, one per alert: series that must fire it (with the exact labels the
 * alert carries) and series that must leave it silent. Times are from the start of the test.
 */
export interface Series {
  series: string;
  values: string;
}

export interface AlertCase {
  fires: { series: Series[]; at: string; labels: Record<string, string>[] };
  /** Series that look alike but must not fire; null only where no such series can exist. */
  silent: { series: Series[]; at: string } | { reason: string };
}

/** Labels every scrape target carries (prometheus-config.ts). */
function target(job: string, service: string, role: string, port: number): Record<string, string> {
  return { environment: "dev", job, instance: `${job}:${port}`, service, zone: "monitoring", role };
}
const PG = target("postgres-exporter", "postgres", "exporter", 9187);
const BOUNCER = target("pgbouncer-exporter", "pgbouncer", "exporter", 9127);
const REDIS = target("redis-exporter", "redis", "exporter", 9121);
const RABBIT = target("rabbitmq", "rabbitmq", "data", 15692);
const MONGO = target("mongo-exporter", "mongo", "exporter", 9216);
const MINIO = target("minio", "minio", "data", 9000);
const USERS = target("users", "users", "service", 9464);
const NODE = target("node-exporter", "node", "exporter", 9100);
const TRAEFIK = target("traefik", "traefik", "gateway", 8082);
const CONSUL = target("consul", "consul", "data", 8500);
const CADVISOR = target("cadvisor", "cadvisor", "exporter", 8080);
const KSM = target("kube-state-metrics", "kube-state-metrics", "exporter", 8080);

export function seriesOf(metric: string, labels: Record<string, string>, values: string): Series {
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",");
  return { series: `${metric}{${text}}`, values };
}

const one = (metric: string, labels: Record<string, string>, values: string) => [seriesOf(metric, labels, values)];

export const ALERT_CASES: Record<string, AlertCase> = {
  Watchdog: { fires: { series: [], at: "1m", labels: [{ severity: "info" }] }, silent: { reason: "vector(1) fires by design; its silence is what the dead-man's switch detects" } },
  TargetDown: {
    fires: { series: one("up", USERS, "0x10"), at: "5m", labels: [{ ...USERS, severity: "critical" }] },
    // A data server exporting its own metrics has its own down alert, and a target that answers is up.
    silent: { series: [...one("up", RABBIT, "0x10"), ...one("up", PG, "1x10")], at: "5m" },
  },
  PostgresDown: { fires: { series: one("pg_up", PG, "0x10"), at: "5m", labels: [{ ...PG, severity: "critical" }] }, silent: { series: one("pg_up", PG, "1x10"), at: "5m" } },
  PostgresExporterErrors: {
    fires: { series: one("pg_exporter_last_scrape_error", PG, "1x10"), at: "5m", labels: [{ ...PG, severity: "warning" }] },
    silent: { series: one("pg_exporter_last_scrape_error", PG, "0x10"), at: "5m" },
  },
  PostgresConnectionsNearLimit: {
    fires: {
      series: [
        seriesOf("pg_stat_activity_count", { ...PG, datname: "users", state: "active" }, "50x10"),
        seriesOf("pg_stat_activity_count", { ...PG, datname: "config", state: "idle" }, "40x10"),
        seriesOf("pg_settings_max_connections", PG, "100x10"),
      ],
      at: "8m",
      labels: [{ ...PG, severity: "warning" }],
    },
    silent: {
      series: [seriesOf("pg_stat_activity_count", { ...PG, datname: "users", state: "active" }, "50x10"), seriesOf("pg_settings_max_connections", PG, "100x10")],
      at: "8m",
    },
  },
  PostgresDeadlocks: {
    fires: { series: one("pg_stat_database_deadlocks", { ...PG, datname: "users" }, "0 0 1 1 1"), at: "4m", labels: [{ ...PG, datname: "users", severity: "warning" }] },
    silent: { series: one("pg_stat_database_deadlocks", { ...PG, datname: "users" }, "3x4"), at: "4m" },
  },
  PostgresBackupTooOld: {
    // The last backup finished 25 hours before the test starts.
    fires: { series: one("fundament_backup_last_success_timestamp_seconds", PG, "-90000x20"), at: "15m", labels: [{ ...PG, severity: "warning" }] },
    // A backup every minute (the value tracks the clock) is never old.
    silent: { series: one("fundament_backup_last_success_timestamp_seconds", PG, "0+60x20"), at: "15m" },
  },
  PgBouncerDown: {
    fires: { series: one("pgbouncer_up", BOUNCER, "0x10"), at: "5m", labels: [{ ...BOUNCER, severity: "critical" }] },
    silent: { series: one("pgbouncer_up", BOUNCER, "1x10"), at: "5m" },
  },
  PgBouncerClientsWaiting: {
    fires: {
      series: one("pgbouncer_pools_client_waiting_connections", { ...BOUNCER, database: "users", user: "users" }, "3x10"),
      at: "5m",
      labels: [{ ...BOUNCER, database: "users", severity: "warning" }],
    },
    silent: { series: one("pgbouncer_pools_client_waiting_connections", { ...BOUNCER, database: "users", user: "users" }, "0x10"), at: "5m" },
  },
  RedisDown: { fires: { series: one("redis_up", REDIS, "0x10"), at: "5m", labels: [{ ...REDIS, severity: "critical" }] }, silent: { series: one("redis_up", REDIS, "1x10"), at: "5m" } },
  RedisMemoryNearMax: {
    fires: { series: [seriesOf("redis_memory_used_bytes", REDIS, "950x10"), seriesOf("redis_memory_max_bytes", REDIS, "1000x10")], at: "8m", labels: [{ ...REDIS, severity: "warning" }] },
    // Without maxmemory (0) there is no limit to be near.
    silent: { series: [seriesOf("redis_memory_used_bytes", REDIS, "950x10"), seriesOf("redis_memory_max_bytes", REDIS, "0x10")], at: "8m" },
  },
  RedisRejectedConnections: {
    fires: { series: one("redis_rejected_connections_total", REDIS, "0 0 2 2 2"), at: "4m", labels: [{ ...REDIS, severity: "warning" }] },
    silent: { series: one("redis_rejected_connections_total", REDIS, "7x4"), at: "4m" },
  },
  RedisAofWriteErrors: {
    fires: { series: one("redis_aof_last_write_status", REDIS, "0x4"), at: "2m", labels: [{ ...REDIS, severity: "critical" }] },
    silent: { series: one("redis_aof_last_write_status", REDIS, "1x4"), at: "2m" },
  },
  RabbitMQDown: { fires: { series: one("up", RABBIT, "0x10"), at: "5m", labels: [{ ...RABBIT, severity: "critical" }] }, silent: { series: one("up", RABBIT, "1x10"), at: "5m" } },
  RabbitMQMemoryAlarm: {
    fires: { series: one("rabbitmq_alarms_memory_used_watermark", RABBIT, "1x4"), at: "2m", labels: [{ ...RABBIT, severity: "critical" }] },
    silent: { series: one("rabbitmq_alarms_memory_used_watermark", RABBIT, "0x4"), at: "2m" },
  },
  RabbitMQDiskAlarm: {
    fires: { series: one("rabbitmq_alarms_free_disk_space_watermark", RABBIT, "1x4"), at: "2m", labels: [{ ...RABBIT, severity: "critical" }] },
    silent: { series: one("rabbitmq_alarms_free_disk_space_watermark", RABBIT, "0x4"), at: "2m" },
  },
  RabbitMQDeadLetters: {
    fires: {
      series: one("rabbitmq_queue_messages", { ...RABBIT, vhost: "/", queue: "user-events.dlq" }, "2x4"),
      at: "2m",
      labels: [{ ...RABBIT, vhost: "/", queue: "user-events.dlq", severity: "warning" }],
    },
    // Messages in an ordinary queue are work, and an empty dead-letter queue is fine.
    silent: {
      series: [seriesOf("rabbitmq_queue_messages", { ...RABBIT, vhost: "/", queue: "user-events" }, "5x4"), seriesOf("rabbitmq_queue_messages", { ...RABBIT, vhost: "/", queue: "user-eventsxdlq" }, "5x4"), seriesOf("rabbitmq_queue_messages", { ...RABBIT, vhost: "/", queue: "config-events.dlq" }, "0x4")],
      at: "2m",
    },
  },
  RabbitMQBacklogGrowing: {
    fires: {
      series: one("rabbitmq_queue_messages_ready", { ...RABBIT, vhost: "/", queue: "user-events" }, "100+10x40"),
      at: "30m",
      labels: [{ ...RABBIT, vhost: "/", queue: "user-events", severity: "warning" }],
    },
    // A large but steady backlog, and a growing dead-letter queue (RabbitMQDeadLetters covers it).
    silent: {
      series: [seriesOf("rabbitmq_queue_messages_ready", { ...RABBIT, vhost: "/", queue: "user-events" }, "500x40"), seriesOf("rabbitmq_queue_messages_ready", { ...RABBIT, vhost: "/", queue: "user-events.dlq" }, "100+10x40")],
      at: "30m",
    },
  },
  MongoDown: { fires: { series: one("mongodb_up", MONGO, "0x10"), at: "5m", labels: [{ ...MONGO, severity: "critical" }] }, silent: { series: one("mongodb_up", MONGO, "1x10"), at: "5m" } },
  MinioDown: { fires: { series: one("up", MINIO, "0x10"), at: "5m", labels: [{ ...MINIO, severity: "critical" }] }, silent: { series: one("up", MINIO, "1x10"), at: "5m" } },
  MinioDiskNearlyFull: {
    fires: {
      series: [seriesOf("minio_node_drive_free_bytes", { ...MINIO, drive: "/data" }, "5x20"), seriesOf("minio_node_drive_total_bytes", { ...MINIO, drive: "/data" }, "100x20")],
      at: "15m",
      labels: [{ ...MINIO, drive: "/data", severity: "warning" }],
    },
    silent: { series: [seriesOf("minio_node_drive_free_bytes", { ...MINIO, drive: "/data" }, "50x20"), seriesOf("minio_node_drive_total_bytes", { ...MINIO, drive: "/data" }, "100x20")], at: "15m" },
  },
  VolumeNearlyFull: {
    fires: {
      series: [seriesOf("node_filesystem_avail_bytes", { ...NODE, device: "/dev/sda1", fstype: "ext4", mountpoint: "/" }, "5x20"), seriesOf("node_filesystem_size_bytes", { ...NODE, device: "/dev/sda1", fstype: "ext4", mountpoint: "/" }, "100x20")],
      at: "15m",
      labels: [{ ...NODE, device: "/dev/sda1", fstype: "ext4", mountpoint: "/", severity: "warning" }],
    },
    // A full tmpfs is memory, not a volume.
    silent: {
      series: [seriesOf("node_filesystem_avail_bytes", { ...NODE, device: "tmpfs", fstype: "tmpfs", mountpoint: "/run" }, "1x20"), seriesOf("node_filesystem_size_bytes", { ...NODE, device: "tmpfs", fstype: "tmpfs", mountpoint: "/run" }, "100x20")],
      at: "15m",
    },
  },
  GatewayErrorRatio: {
    fires: {
      series: [seriesOf("traefik_router_requests_total", { ...TRAEFIK, router: "users@file", code: "500", method: "GET", protocol: "http" }, "0+10x20"), seriesOf("traefik_router_requests_total", { ...TRAEFIK, router: "users@file", code: "200", method: "GET", protocol: "http" }, "0+90x20")],
      at: "15m",
      labels: [{ environment: "dev", router: "users@file", severity: "warning" }],
    },
    silent: {
      series: [seriesOf("traefik_router_requests_total", { ...TRAEFIK, router: "users@file", code: "500", method: "GET", protocol: "http" }, "0+1x20"), seriesOf("traefik_router_requests_total", { ...TRAEFIK, router: "users@file", code: "200", method: "GET", protocol: "http" }, "0+99x20")],
      at: "15m",
    },
  },
  GatewayLatencyP99: {
    fires: {
      series: [
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "users@file", le: "0.1" }, "0x20"),
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "users@file", le: "1" }, "0x20"),
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "users@file", le: "5" }, "0+10x20"),
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "users@file", le: "+Inf" }, "0+10x20"),
      ],
      at: "15m",
      labels: [{ environment: "dev", router: "users@file", severity: "warning" }],
    },
    silent: {
      series: [
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "users@file", le: "0.1" }, "0+10x20"),
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "users@file", le: "1" }, "0+10x20"),
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "users@file", le: "+Inf" }, "0+10x20"),
        // The gateway's router of config's watches (Traefik's default buckets): each request held
        // its 25 s on purpose, so all of them land above the last finite bucket.
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "config-long-poll@file", le: "1.2" }, "0x20"),
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "config-long-poll@file", le: "5" }, "0x20"),
        seriesOf("traefik_router_request_duration_seconds_bucket", { ...TRAEFIK, router: "config-long-poll@file", le: "+Inf" }, "0+10x20"),
      ],
      at: "15m",
    },
  },
  CertificateExpiring: {
    fires: { series: one("traefik_tls_certs_not_after", { ...TRAEFIK, cn: "users.fundament.localhost" }, `${7 * 86400}x4`), at: "2m", labels: [{ ...TRAEFIK, cn: "users.fundament.localhost", severity: "warning" }] },
    silent: { series: one("traefik_tls_certs_not_after", { ...TRAEFIK, cn: "users.fundament.localhost" }, `${60 * 86400}x4`), at: "2m" },
  },
  ConsulUnhealthy: {
    fires: { series: one("consul_autopilot_healthy", CONSUL, "0x10"), at: "5m", labels: [{ ...CONSUL, severity: "critical" }] },
    silent: { series: one("consul_autopilot_healthy", CONSUL, "1x10"), at: "5m" },
  },
  ConsulMemberFailed: {
    fires: { series: one("consul_serf_member_failed", CONSUL, "0 0 1 1 1"), at: "4m", labels: [{ ...CONSUL, severity: "warning" }] },
    silent: { series: one("consul_serf_member_failed", CONSUL, "2x4"), at: "4m" },
  },
  ServiceErrorRatio: {
    fires: {
      series: [
        seriesOf("http_request_duration_seconds_count", { ...USERS, method: "POST", route: "/users", status_class: "5xx" }, "0+10x20"),
        seriesOf("http_request_duration_seconds_count", { ...USERS, method: "POST", route: "/users", status_class: "2xx" }, "0+90x20"),
      ],
      at: "15m",
      labels: [{ environment: "dev", service: "users", severity: "warning" }],
    },
    // 4xx are the caller's fault, not the service's.
    silent: {
      series: [
        seriesOf("http_request_duration_seconds_count", { ...USERS, method: "POST", route: "/users", status_class: "4xx" }, "0+50x20"),
        seriesOf("http_request_duration_seconds_count", { ...USERS, method: "POST", route: "/users", status_class: "2xx" }, "0+50x20"),
      ],
      at: "15m",
    },
  },
  ServiceLatencyP99: {
    fires: {
      series: [
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "POST", route: "/session", status_class: "2xx", le: "0.5" }, "0x20"),
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "POST", route: "/session", status_class: "2xx", le: "2.5" }, "0+10x20"),
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "POST", route: "/session", status_class: "2xx", le: "+Inf" }, "0+10x20"),
      ],
      at: "15m",
      labels: [{ environment: "dev", service: "users", severity: "warning" }],
    },
    silent: {
      series: [
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "POST", route: "/session", status_class: "2xx", le: "0.5" }, "0+10x20"),
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "POST", route: "/session", status_class: "2xx", le: "30" }, "0+10x20"),
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "POST", route: "/session", status_class: "2xx", le: "+Inf" }, "0+10x20"),
        // As many JWKS watches, each held its 25 s: they wait on purpose and are no latency.
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "GET", route: "/.well-known/jwks.json", status_class: "3xx", le: "0.5" }, "0x20"),
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "GET", route: "/.well-known/jwks.json", status_class: "3xx", le: "30" }, "0+10x20"),
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "GET", route: "/.well-known/jwks.json", status_class: "3xx", le: "+Inf" }, "0+10x20"),
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "GET", route: "/namespaces/:namespace/environments/:environment/watch", status_class: "2xx", le: "0.5" }, "0x20"),
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "GET", route: "/namespaces/:namespace/environments/:environment/watch", status_class: "2xx", le: "30" }, "0+10x20"),
        seriesOf("http_request_duration_seconds_bucket", { ...USERS, method: "GET", route: "/namespaces/:namespace/environments/:environment/watch", status_class: "2xx", le: "+Inf" }, "0+10x20"),
      ],
      at: "15m",
    },
  },
  ServiceNotReady: {
    fires: { series: one("fundament_service_ready", USERS, "0x10"), at: "5m", labels: [{ ...USERS, severity: "warning" }] },
    silent: { series: one("fundament_service_ready", USERS, "1x10"), at: "5m" },
  },
  ContainerRestarting: {
    fires: { series: one("container_start_time_seconds", { ...CADVISOR, name: "dev-users", image: "fundament/users:0.1.0" }, "100 200 300 400 500"), at: "4m", labels: [{ ...CADVISOR, name: "dev-users", image: "fundament/users:0.1.0", severity: "warning" }] },
    silent: { series: one("container_start_time_seconds", { ...CADVISOR, name: "dev-users", image: "fundament/users:0.1.0" }, "100x4"), at: "4m" },
  },
  PodRestarting: {
    fires: {
      series: one("kube_pod_container_status_restarts_total", { ...KSM, namespace: "fundament", pod: "users-0", container: "users" }, "0 1 2 3 4"),
      at: "4m",
      labels: [{ ...KSM, namespace: "fundament", pod: "users-0", container: "users", severity: "warning" }],
    },
    silent: { series: one("kube_pod_container_status_restarts_total", { ...KSM, namespace: "fundament", pod: "users-0", container: "users" }, "5x4"), at: "4m" },
  },
  HostCpuHigh: {
    fires: { series: one("node_cpu_seconds_total", { ...NODE, cpu: "0", mode: "idle" }, "0+3x40"), at: "30m", labels: [{ environment: "dev", job: "node-exporter", instance: NODE.instance, severity: "warning" }] },
    silent: { series: one("node_cpu_seconds_total", { ...NODE, cpu: "0", mode: "idle" }, "0+54x40"), at: "30m" },
  },
  HostMemoryLow: {
    fires: { series: [seriesOf("node_memory_MemAvailable_bytes", NODE, "5x20"), seriesOf("node_memory_MemTotal_bytes", NODE, "100x20")], at: "15m", labels: [{ ...NODE, severity: "warning" }] },
    silent: { series: [seriesOf("node_memory_MemAvailable_bytes", NODE, "50x20"), seriesOf("node_memory_MemTotal_bytes", NODE, "100x20")], at: "15m" },
  },
  CriticalUnresolved: {
    // Escalation after 30 minutes (the test renders the rules with that delay).
    fires: {
      series: one("pg_up", PG, "0x60"),
      at: "45m",
      labels: [{ ...PG, severity: "critical", escalate: "true", escalated_alert: "PostgresDown", alertstate: "firing" }],
    },
    // Resolved after 20 minutes: never escalates.
    silent: { series: one("pg_up", PG, "0x20 1x40"), at: "45m" },
  },
};
