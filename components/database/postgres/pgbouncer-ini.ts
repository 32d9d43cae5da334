import type { TlsFilePaths } from "../../pki/tls-files";

/**
 * pgbouncer.ini and its userlist. Valid on PgBouncer 1.24 (the test root's binary the tests run)
 * and on the pinned image's 1.25: only settings both versions know are written.
 */
export const PGBOUNCER_PORT = 6432;
/** May run SHOW STATS/POOLS on the admin console and nothing else; exists only in PgBouncer. */
export const PGBOUNCER_STATS_USER = "fundament_pgbouncer_stats";

export interface PgBouncerDatabase {
  /** Name clients ask for; also the database on the server. */
  name: string;
}

export interface PgBouncerIniInput {
  postgresHost: string;
  postgresPort: number;
  databases: PgBouncerDatabase[];
  defaultPoolSize: number;
  maxClientConnections: number;
  authFile: string;
  listenPort?: number;
  /**
   * PgBouncer's own leaf (what clients verify) and the platform CA, which it also verifies
   * PostgreSQL against: `postgresHost` must be a name PostgreSQL's leaf carries.
   */
  tls: TlsFilePaths;
}

export interface UserlistEntry {
  user: string;
  /** SCRAM-SHA-256 verifier: PgBouncer authenticates clients with it and, because PostgreSQL
   * holds the same verifier, reuses the client's proof to log in to the server. */
  scramVerifier: string;
}

/** Problems with pool sizing, one line each, field first; empty when valid. */
export function pgBouncerSizingProblems(input: { defaultPoolSize: number; maxClientConnections: number }, prefix = ""): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(input.defaultPoolSize) || input.defaultPoolSize < 1 || input.defaultPoolSize > 1000) {
    problems.push(`${prefix}defaultPoolSize: must be an integer from 1 to 1000 (got ${input.defaultPoolSize})`);
  }
  if (!Number.isInteger(input.maxClientConnections) || input.maxClientConnections < 1 || input.maxClientConnections > 100000) {
    problems.push(`${prefix}maxClientConnections: must be an integer from 1 to 100000 (got ${input.maxClientConnections})`);
  } else if (Number.isInteger(input.defaultPoolSize) && input.maxClientConnections < input.defaultPoolSize) {
    problems.push(`${prefix}maxClientConnections: must be at least defaultPoolSize (${input.defaultPoolSize}) or the pool can never fill (got ${input.maxClientConnections})`);
  }
  return problems;
}

const quoteValue = (value: string): string => {
  if (!/^[A-Za-z0-9_.:/-]+$/.test(value)) throw new Error(`pgbouncer.ini value ${JSON.stringify(value)} has characters PgBouncer would misread`);
  return value;
};

export function renderPgBouncerIni(input: PgBouncerIniInput): string {
  const problems = pgBouncerSizingProblems(input);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  const host = quoteValue(input.postgresHost);
  const lines = [
    "; Rendered by fundament (components/database/postgres/pgbouncer-ini.ts); edits are overwritten.",
    "[databases]",
    ...input.databases.map((db) => `${quoteValue(db.name)} = host=${host} port=${input.postgresPort} dbname=${quoteValue(db.name)}`),
    "",
    "[pgbouncer]",
    "listen_addr = *",
    `listen_port = ${input.listenPort ?? PGBOUNCER_PORT}`,
    // No unix socket: clients arrive over the network, and the image's /tmp may be read-only.
    "unix_socket_dir =",
    "",
    // TLS both ways. Clients must use it (they present no certificate, so "require", and they
    // verify PgBouncer's leaf themselves); PgBouncer verifies PostgreSQL's leaf and host name.
    "client_tls_sslmode = require",
    `client_tls_key_file = ${quoteValue(input.tls.key)}`,
    `client_tls_cert_file = ${quoteValue(input.tls.cert)}`,
    `client_tls_ca_file = ${quoteValue(input.tls.ca)}`,
    "client_tls_protocols = secure",
    "server_tls_sslmode = verify-full",
    `server_tls_ca_file = ${quoteValue(input.tls.ca)}`,
    "server_tls_protocols = secure",
    "",
    "auth_type = scram-sha-256",
    `auth_file = ${quoteValue(input.authFile)}`,
    `stats_users = ${PGBOUNCER_STATS_USER}`,
    "",
    // Transaction pooling: a server connection is held only for the length of a transaction,
    // so session state (SET, advisory locks, LISTEN) does not survive between transactions.
    "pool_mode = transaction",
    `default_pool_size = ${input.defaultPoolSize}`,
    // A pool never exceeds its size: PostgreSQL's max_connections is planned against it.
    `max_db_connections = ${input.defaultPoolSize}`,
    "reserve_pool_size = 0",
    `max_client_conn = ${input.maxClientConnections}`,
    "server_reset_query =",
    // Start-up parameters PgBouncer cannot track, which it would refuse the login over: JDBC's
    // extra_float_digits, and the two timeouts a pool may send (services/kit). PgBouncer tracks
    // only parameters PostgreSQL reports back, and the timeouts are not among them, so it drops
    // them: through PgBouncer a session runs with its role's timeouts, which the init SQL sets on
    // every service role (ALTER ROLE … SET, postgres-init-sql.ts; tested through this file).
    "ignore_startup_parameters = extra_float_digits, statement_timeout, idle_in_transaction_session_timeout",
    "",
    "server_lifetime = 3600",
    "server_idle_timeout = 600",
    "server_connect_timeout = 15",
    "server_login_retry = 5",
    "query_wait_timeout = 120",
    "client_login_timeout = 60",
    "",
    "log_connections = 0",
    "log_disconnections = 0",
    "log_pooler_errors = 1",
    "stats_period = 60",
    "",
  ];
  return lines.join("\n");
}

/** userlist.txt: `"user" "verifier"` per line; PgBouncer allows no other quoting. */
export function renderPgBouncerUserlist(entries: UserlistEntry[]): string {
  return entries
    .map((entry) => {
      if (/["\s]/.test(entry.user) || /["\s]/.test(entry.scramVerifier)) throw new Error(`userlist entry for ${JSON.stringify(entry.user)} contains a quote or space`);
      if (!entry.scramVerifier.startsWith("SCRAM-SHA-256$")) throw new Error(`userlist entry for ${entry.user}: only SCRAM-SHA-256 verifiers are accepted, never a password`);
      return `"${entry.user}" "${entry.scramVerifier}"\n`;
    })
    .join("");
}
