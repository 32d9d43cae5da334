/**
 * A libpq password file (~/.pgpass format): how psql, pg_dump and lib/pq-based exporters take a
 * password from a file. libpq ignores the file unless its mode is 0600 or stricter.
 */
export interface PgpassEntry {
  host?: string;
  port?: number;
  database?: string;
  user: string;
  password: string;
}

const escape = (field: string): string => field.replace(/\\/g, "\\\\").replace(/:/g, "\\:");

export function renderPgpass(entries: PgpassEntry[]): string {
  return entries
    .map((e) => {
      if (/[\r\n]/.test(e.password) || /[\r\n]/.test(e.user)) throw new Error(`pgpass entry for ${JSON.stringify(e.user)}: a line break cannot be written`);
      return [e.host ?? "*", e.port === undefined ? "*" : String(e.port), e.database ?? "*", e.user, e.password].map(escape).join(":") + "\n";
    })
    .join("");
}

/** Mode libpq requires of a password file. */
export const PGPASS_MODE = 0o600;
