import { BACKUP_ROLE, BACKUP_STATUS_TABLE, MONITOR_ROLE } from "./postgres-databases";

export interface ServiceRole {
  role: string;
  database: string;
  /** SCRAM-SHA-256 verifier (postgres-scram.ts): the file never carries a password. */
  scramVerifier: string;
}

/** What every session of a role starts with, whatever path it arrives by. */
export interface RoleSessionDefaults {
  /** A runaway statement is cancelled by the server after this long. */
  statementTimeoutMs: number;
  /** A transaction left open (a crashed handler) is ended, releasing its locks, after this long. */
  idleInTransactionSessionTimeoutMs: number;
}

/**
 * The service roles' defaults: the same values the kit's pools ask for (services/kit/src/postgres.ts).
 * They must live on the role because the services reach PostgreSQL through PgBouncer, which drops
 * these start-up parameters (ignore_startup_parameters in pgbouncer-ini.ts: it cannot track them),
 * so without a role default a pooled session would run with the server's (none). A session may
 * still SET its own (a migration lifts statement_timeout on its direct connection).
 */
export const SERVICE_SESSION_DEFAULTS: RoleSessionDefaults = { statementTimeoutMs: 5_000, idleInTransactionSessionTimeoutMs: 10_000 };

/**
 * The exporter's role: its queries read statistics views and should never take long, but a
 * scrape of a busy server may; pg_dump (the backup role) sets its own timeouts to 0 at start.
 */
export const MONITOR_SESSION_DEFAULTS: RoleSessionDefaults = { statementTimeoutMs: 15_000, idleInTransactionSessionTimeoutMs: 15_000 };

export interface PostgresInitSqlInput {
  services: ServiceRole[];
  monitorVerifier: string;
  backupVerifier: string;
  /** Default: SERVICE_SESSION_DEFAULTS. */
  serviceSessionDefaults?: RoleSessionDefaults;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (value: string): string => `'${value.replace(/'/g, "''")}'`;

function sessionDefaultProblems(defaults: RoleSessionDefaults, field: string): string[] {
  // PostgreSQL takes these in milliseconds up to INT_MAX; 0 would mean "no limit", which is what a role default is here to prevent.
  return (["statementTimeoutMs", "idleInTransactionSessionTimeoutMs"] as const).flatMap((key) =>
    Number.isInteger(defaults[key]) && defaults[key] >= 1 && defaults[key] <= 2_147_483_647 ? [] : [`${field}.${key}: must be an integer of milliseconds from 1 to 2147483647 (got ${defaults[key]})`],
  );
}

/**
 * ALTER ROLE … SET: stored in pg_db_role_setting and applied at the start of every session of the
 * role. Exported for test databases, which must give a service role the limits the platform gives it.
 */
export function roleDefaults(role: string, defaults: RoleSessionDefaults = SERVICE_SESSION_DEFAULTS): string[] {
  return [
    `ALTER ROLE ${quoteIdent(role)} SET statement_timeout = ${defaults.statementTimeoutMs};`,
    `ALTER ROLE ${quoteIdent(role)} SET idle_in_transaction_session_timeout = ${defaults.idleInTransactionSessionTimeoutMs};`,
  ];
}

function loginRole(role: string, verifier: string): string {
  // NOINHERIT and no attribute beyond LOGIN: a service role can own its database and nothing else.
  return `CREATE ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${quoteLiteral(verifier)};`;
}

/**
 * Run once by the image's entrypoint (docker-entrypoint-initdb.d) as the superuser on an empty
 * data directory. Each service gets a role that owns its database; CONNECT is revoked from
 * PUBLIC on every database, so a role reaches only its own.
 */
export function renderPostgresInitSql(input: PostgresInitSqlInput): string {
  const serviceDefaults = input.serviceSessionDefaults ?? SERVICE_SESSION_DEFAULTS;
  const problems = sessionDefaultProblems(serviceDefaults, "serviceSessionDefaults");
  if (problems.length > 0) throw new Error(problems.join("\n"));
  const [schema, table] = BACKUP_STATUS_TABLE.split(".");
  const lines: string[] = [
    "-- Rendered by fundament (components/database/postgres/postgres-init-sql.ts).",
    "\\set ON_ERROR_STOP on",
    "",
    "-- The maintenance databases are for the platform's own roles only.",
    "REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;",
    "REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;",
    "",
    loginRole(MONITOR_ROLE, input.monitorVerifier),
    `GRANT pg_monitor TO ${quoteIdent(MONITOR_ROLE)};`,
    `GRANT CONNECT ON DATABASE postgres TO ${quoteIdent(MONITOR_ROLE)};`,
    ...roleDefaults(MONITOR_ROLE, MONITOR_SESSION_DEFAULTS),
    "",
    loginRole(BACKUP_ROLE, input.backupVerifier),
    // pg_read_all_data (PostgreSQL 14+) lets pg_dump read every table without superuser.
    `GRANT pg_read_all_data TO ${quoteIdent(BACKUP_ROLE)};`,
    `GRANT CONNECT ON DATABASE postgres TO ${quoteIdent(BACKUP_ROLE)};`,
    "",
    `CREATE SCHEMA ${quoteIdent(schema)};`,
    `CREATE TABLE ${quoteIdent(schema)}.${quoteIdent(table)} (`,
    "  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),",
    "  last_success timestamptz NOT NULL,",
    "  databases integer NOT NULL,",
    "  bytes bigint NOT NULL",
    ");",
    `GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${quoteIdent(BACKUP_ROLE)}, ${quoteIdent(MONITOR_ROLE)};`,
    `GRANT SELECT, INSERT, UPDATE ON ${quoteIdent(schema)}.${quoteIdent(table)} TO ${quoteIdent(BACKUP_ROLE)};`,
    `GRANT SELECT ON ${quoteIdent(schema)}.${quoteIdent(table)} TO ${quoteIdent(MONITOR_ROLE)};`,
  ];
  for (const service of input.services) {
    const role = quoteIdent(service.role);
    const database = quoteIdent(service.database);
    lines.push(
      "",
      `-- ${service.role}`,
      loginRole(service.role, service.scramVerifier),
      ...roleDefaults(service.role, serviceDefaults),
      `CREATE DATABASE ${database} OWNER ${role};`,
      `REVOKE ALL ON DATABASE ${database} FROM PUBLIC;`,
      `GRANT CONNECT ON DATABASE ${database} TO ${quoteIdent(BACKUP_ROLE)};`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
