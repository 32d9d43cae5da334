import { BACKUP_ROLE, BACKUP_STATUS_TABLE, MONITOR_ROLE } from "./postgres-databases";

export interface ServiceRole {
  role: string;
  database: string;
  /** SCRAM-SHA-256 verifier (postgres-scram.ts): the file never carries a password. */
  scramVerifier: string;
}

export interface PostgresInitSqlInput {
  services: ServiceRole[];
  monitorVerifier: string;
  backupVerifier: string;
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (value: string): string => `'${value.replace(/'/g, "''")}'`;

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
  const [schema, table] = BACKUP_STATUS_TABLE.split(".");
  const lines: string[] = [
    "-- Rendered by fundament (components/database/postgres-init-sql.ts).",
    "\\set ON_ERROR_STOP on",
    "",
    "-- The maintenance databases are for the platform's own roles only.",
    "REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;",
    "REVOKE CONNECT, TEMPORARY ON DATABASE template1 FROM PUBLIC;",
    "",
    loginRole(MONITOR_ROLE, input.monitorVerifier),
    `GRANT pg_monitor TO ${quoteIdent(MONITOR_ROLE)};`,
    `GRANT CONNECT ON DATABASE postgres TO ${quoteIdent(MONITOR_ROLE)};`,
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
      `CREATE DATABASE ${database} OWNER ${role};`,
      `REVOKE ALL ON DATABASE ${database} FROM PUBLIC;`,
      `GRANT CONNECT ON DATABASE ${database} TO ${quoteIdent(BACKUP_ROLE)};`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
