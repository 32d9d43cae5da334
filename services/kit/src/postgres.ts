import type { ConnectionOptions } from "node:tls";
import { EnvError } from "./env";
import { Pool, type PoolConfig } from "pg";

export type { Pool, PoolClient } from "pg";

export interface PgPoolOptions {
  /** postgres://user@host:port/db, without a password; `sslmode`, if given, must be verify-full. */
  url: string;
  /** Read from DATABASE_PASSWORD_FILE by the service's env spec. */
  password?: string;
  /** The CA (PEM) the server's certificate must chain to: the platform CA, from DATABASE_CA_FILE. */
  ca: string;
  applicationName: string;
  max?: number;
  /**
   * A runaway query is cancelled by the server after this long. Sent as a start-up parameter, so
   * it takes effect only on a direct connection to PostgreSQL: PgBouncer drops it
   * (ignore_startup_parameters), and there the role's default applies, which the platform sets for
   * every service role (components/database/postgres/postgres-init-sql.ts). Unset: the role's.
   */
  statementTimeoutMs?: number;
  /** A transaction left open by a crashed handler stops holding locks after this long. Same rules as statementTimeoutMs. */
  idleInTransactionTimeoutMs?: number;
  connectionTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Where errors of idle connections are reported. */
  onIdleError?: (error: Error) => void;
}

/**
 * libpq's verify-full for node-postgres: TLS or no connection, the certificate must chain to `ca`
 * and carry the host name dialled (pg passes the host to tls.connect as the name to check).
 */
export function postgresTls(ca: string): ConnectionOptions {
  if (!ca.includes("-----BEGIN CERTIFICATE-----")) throw new Error("postgres: the CA must be a PEM certificate (DATABASE_CA_FILE)");
  return { ca, rejectUnauthorized: true };
}

/** pg lets fields parsed from a connection string override explicit ones, so the URL is split here. */
export function connectionFields(url: string): Pick<PoolConfig, "host" | "port" | "user" | "database"> {
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get("sslmode");
  // Every connection verifies the server; a URL asking for less is a mistake to report, not to follow.
  if (sslmode !== null && sslmode !== "verify-full") throw new Error(`postgres: ${parsed.host}: sslmode=${sslmode} is not supported; connections always use verify-full`);
  const fields: Pick<PoolConfig, "host" | "port" | "user" | "database"> = { host: decodeURIComponent(parsed.hostname) || "localhost" };
  if (parsed.port !== "") fields.port = Number(parsed.port);
  if (parsed.username !== "") fields.user = decodeURIComponent(parsed.username);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (database !== "") fields.database = database;
  return fields;
}

export function createPgPool(options: PgPoolOptions): Pool {
  const config: PoolConfig = {
    ...connectionFields(options.url),
    ssl: postgresTls(options.ca),
    application_name: options.applicationName,
    max: options.max ?? 10,
    // Only when asked: a parameter PgBouncer drops would only pretend to set a limit.
    ...(options.statementTimeoutMs !== undefined ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(options.idleInTransactionTimeoutMs !== undefined ? { idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs } : {}),
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
  };
  if (options.password !== undefined) config.password = options.password;
  const pool = new Pool(config);
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on("error", (error) => options.onIdleError?.(error));
  return pool;
}

export async function checkPostgres(pool: Pool): Promise<void> {
  await pool.query("select 1");
}

/** The limits a pool's sessions really run under, in milliseconds (0: none). */
export interface SessionTimeouts {
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/** What the server applies to this pool's sessions: asked for at start-up, or else the role's defaults. */
export async function sessionTimeouts(pool: Pool): Promise<SessionTimeouts> {
  // pg_settings gives both in milliseconds, whatever unit they were set in.
  const { rows } = await pool.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('statement_timeout', 'idle_in_transaction_session_timeout')",
  );
  const value = (name: string) => Number(rows.find((row) => row.name === name)?.setting ?? 0);
  return { statementTimeoutMs: value("statement_timeout"), idleInTransactionTimeoutMs: value("idle_in_transaction_session_timeout") };
}

/**
 * The pool's timeouts, refused when one that was asked for is not in effect: through PgBouncer a
 * start-up parameter is dropped, so a setting would only pretend to limit anything. `names` are
 * the environment variables the values came from, for the message.
 */
export async function effectiveSessionTimeouts(
  pool: Pool,
  asked: { statementTimeoutMs?: number; idleInTransactionTimeoutMs?: number },
  names: { statementTimeoutMs: string; idleInTransactionTimeoutMs: string },
): Promise<SessionTimeouts> {
  const actual = await sessionTimeouts(pool);
  const problems: string[] = [];
  for (const key of ["statementTimeoutMs", "idleInTransactionTimeoutMs"] as const) {
    const wanted = asked[key];
    if (wanted !== undefined && wanted !== actual[key]) {
      problems.push(
        `${names[key]}: ${wanted} ms was asked for, but the server's sessions run with ${actual[key]} ms: ` +
          "a connection through PgBouncer drops start-up parameters. Leave it unset there and set the role's default instead (ALTER ROLE ... SET)",
      );
    }
  }
  if (problems.length > 0) throw new EnvError(problems);
  return actual;
}
