import type { Dashboard } from "@grafana/schema";
import { BACKUP_LAST_SUCCESS_METRIC } from "../../database/postgres/postgres-exporter-queries";
import { dashboard, stat, timeseries } from "./panels";

export const databases: Dashboard = dashboard("fundament-databases", "Databases", "PostgreSQL, PgBouncer, Redis and MongoDB", [
  stat("PostgreSQL up", "none", [{ expr: "pg_up", legend: "{{instance}}" }]),
  stat("Last backup age", "s", [{ expr: `time() - ${BACKUP_LAST_SUCCESS_METRIC}`, legend: "age" }]),
  timeseries("PostgreSQL connections vs max_connections", "none", [
    { expr: "sum by (instance) (pg_stat_activity_count)", legend: "in use" },
    { expr: "max by (instance) (pg_settings_max_connections)", legend: "max" },
  ]),
  timeseries("Transactions per database", "ops", [{ expr: "sum by (datname) (rate(pg_stat_database_xact_commit[5m]) + rate(pg_stat_database_xact_rollback[5m]))", legend: "{{datname}}" }]),
  timeseries("Deadlocks", "none", [{ expr: "sum by (datname) (increase(pg_stat_database_deadlocks[10m]))", legend: "{{datname}}" }]),
  timeseries("PgBouncer clients waiting", "none", [{ expr: "sum by (database) (pgbouncer_pools_client_waiting_connections)", legend: "{{database}}" }]),
  stat("Redis up", "none", [{ expr: "redis_up", legend: "{{instance}}" }]),
  timeseries("Redis memory vs maxmemory", "bytes", [
    { expr: "redis_memory_used_bytes", legend: "used" },
    { expr: "redis_memory_max_bytes", legend: "maxmemory" },
  ]),
  timeseries("Redis commands", "ops", [{ expr: "sum by (instance) (rate(redis_commands_processed_total[5m]))", legend: "{{instance}}" }]),
  timeseries("Redis clients", "none", [{ expr: "redis_connected_clients", legend: "{{instance}}" }]),
  stat("MongoDB up", "none", [{ expr: "mongodb_up", legend: "{{instance}}" }]),
]);
