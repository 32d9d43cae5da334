/**
 * pg_hba.conf: the superuser only over the socket as the postgres OS user (the image's init
 * step and an operator's `psql` inside the container), everyone else over TCP with TLS and
 * SCRAM. There is no `host` line: a connection without TLS matches no line and is refused
 * before any password is exchanged. Which database a role may open is decided by CONNECT grants
 * (postgres-init-sql.ts), so the file stays the same however many services there are.
 */
export function renderPostgresHba(): string {
  return [
    "# Rendered by fundament (components/database/postgres/postgres-hba.ts).",
    "# TYPE   DATABASE  USER      ADDRESS     METHOD",
    "local    all       postgres              peer",
    "local    all       all                   reject",
    "hostssl  all       all       0.0.0.0/0   scram-sha-256",
    "hostssl  all       all       ::/0        scram-sha-256",
    "",
  ].join("\n");
}
