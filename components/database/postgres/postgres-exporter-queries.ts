import { BACKUP_STATUS_TABLE } from "./postgres-databases";

/** The metric monitoring alerts on when backups stop succeeding. */
export const BACKUP_LAST_SUCCESS_METRIC = "fundament_backup_last_success_timestamp_seconds";

/**
 * SQL behind the metric. max() always yields one row, so before the first backup the metric is
 * 0 (an alert on `time() - metric > ...` fires at once) instead of missing (which an alert on
 * age alone would never notice).
 */
export const BACKUP_LAST_SUCCESS_SQL = `SELECT coalesce(extract(epoch FROM max(last_success)), 0)::float8 AS last_success_timestamp_seconds FROM ${BACKUP_STATUS_TABLE}`;

/**
 * queries.yaml for postgres_exporter's --extend.query-path (deprecated upstream in favour of
 * sql_exporter, still present in the pinned v0.18): a query keyed `fundament_backup` with a
 * column `last_success_timestamp_seconds` becomes `fundament_backup_last_success_timestamp_seconds`.
 */
export function renderPostgresExporterQueries(): string {
  return [
    "# Rendered by fundament (components/database/postgres/postgres-exporter-queries.ts).",
    "fundament_backup:",
    `  query: ${JSON.stringify(BACKUP_LAST_SUCCESS_SQL)}`,
    "  master: true",
    "  metrics:",
    "    - last_success_timestamp_seconds:",
    "        usage: GAUGE",
    '        description: "Unix time of the last logical backup that completed and was recorded; 0 before the first"',
    "",
  ].join("\n");
}
