import { Pool, type PoolConfig } from "pg";

export type { Pool, PoolClient } from "pg";

export interface PgPoolOptions {
  /** postgres://user@host:port/db, without a password. */
  url: string;
  /** Read from DATABASE_PASSWORD_FILE by the service's env spec. */
  password?: string;
  applicationName: string;
  max?: number;
  /** A runaway query is cancelled by the server after this long. */
  statementTimeoutMs?: number;
  /** A transaction left open by a crashed handler stops holding locks after this long. */
  idleInTransactionTimeoutMs?: number;
  connectionTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Where errors of idle connections are reported. */
  onIdleError?: (error: Error) => void;
}

/** pg lets fields parsed from a connection string override explicit ones, so the URL is split here. */
function connectionFields(url: string): Pick<PoolConfig, "host" | "port" | "user" | "database"> {
  const parsed = new URL(url);
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
    application_name: options.applicationName,
    max: options.max ?? 10,
    statement_timeout: options.statementTimeoutMs ?? 5000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 10_000,
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
