import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { POSTGRES_MAJOR } from "../../components/config/server-versions";
import { startOnFreePorts } from "./free-port";
import { chownTo, ownedTempDir, runAs, runAsOrThrow, ServerProcess, type ServiceUser } from "./server-process";
import { harnessCa, harnessLeafName } from "./harness-ca";
import { testServer } from "./test-roots";

/** The PostgreSQL binaries' directory inside the test root (the pinned major's). */
export const POSTGRES_BIN = `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin`;

export interface PostgresServerOptions {
  /** Rendered postgresql.conf; the harness appends only port, listen address and socket dir. */
  conf?: string;
  /** pg_hba.conf; by default local peer and SCRAM over 127.0.0.1. */
  hba?: string;
  /** SQL files run once as the superuser after the first start, like docker-entrypoint-initdb.d. */
  initSql?: string[];
  /** Password of the `postgres` superuser for TCP logins. */
  superuserPassword?: string;
  /**
   * "harness" (default): the harness gives the server a leaf of the harness CA for localhost,
   * 127.0.0.1 and ::1 and appends the ssl settings. "rendered": `conf` carries its own.
   */
  tls?: "harness" | "rendered";
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly superuserPassword: string;
  /** The harness CA: what the server's certificate chains to unless tls is "rendered" (then the conf's own CA). */
  readonly caPath: string;
  readonly caPem: string;
  /** libpq settings that verify the server over TCP (ignored on the socket). */
  readonly tlsEnv: { PGSSLMODE: string; PGSSLROOTCERT: string };
  /** The postgres user of the test root: runAs with it runs the root's programs (PATH from POSTGRES_BIN). */
  readonly user: ServiceUser;
  /** Runs SQL as the superuser over the socket; returns psql's unaligned, tuples-only output. */
  psql(sql: string, database?: string): string;
  /** Runs a binary of the server's (pg_dump, pgbench, ...) as the postgres user. */
  run(binary: string, args: string[], env?: NodeJS.ProcessEnv): ReturnType<typeof runAs>;
  start(): Promise<void>;
  /** Fast shutdown (SIGINT), as a stop grace period would do. */
  stop(): Promise<void>;
  /** The last 8000 characters the server logged to stdout/stderr since its last start. */
  output(): string;
  /** Stops and removes the data directory. */
  destroy(): Promise<void>;
}

// Like the rendered pg_hba.conf: TCP logins over TLS only.
const DEFAULT_HBA = [
  "local all all peer",
  "hostssl all all 127.0.0.1/32 scram-sha-256",
  "hostssl all all ::1/128 scram-sha-256",
].join("\n");

/** initdb and start the pinned PostgreSQL major (from its test root) as the postgres user, on a free loopback port. */
export function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  return startOnFreePorts(1, ([port]) => startPostgresOn(options, port));
}

async function startPostgresOn(options: PostgresServerOptions, port: number): Promise<PostgresServer> {
  const user = testServer("postgres").user;
  const temp = ownedTempDir("pg", user);
  const dataDir = join(temp.path, "data");
  const socketDir = temp.path;
  const superuserPassword = options.superuserPassword ?? `su-${Math.random().toString(36).slice(2)}`;
  const pwFile = join(temp.path, "pwfile");
  writeFileSync(pwFile, superuserPassword, { mode: 0o600 });
  chownTo(pwFile, user);
  runAsOrThrow(user, join(POSTGRES_BIN, "initdb"), [
    "-D", dataDir, "-U", "postgres", "--pwfile", pwFile, "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
  ]);
  if (options.conf !== undefined) writeFileSync(join(dataDir, "postgresql.conf"), options.conf);
  const ca = harnessCa();
  let tlsLines = "";
  if ((options.tls ?? "harness") === "harness") {
    const leaf = ca.leaf(harnessLeafName("postgres"), ["localhost"], { dir: temp.path, owner: user, ips: ["127.0.0.1", "::1"] });
    tlsLines = `ssl = on\nssl_cert_file = '${leaf.certPath}'\nssl_key_file = '${leaf.keyPath}'\nssl_ca_file = '${ca.caPath}'\nssl_min_protocol_version = 'TLSv1.2'\n`;
  }
  // Both loopback addresses: "localhost", the name the leaf carries, resolves to either.
  appendFileSync(
    join(dataDir, "postgresql.conf"),
    `\n# test harness\nlisten_addresses = '127.0.0.1,::1'\nport = ${port}\nunix_socket_directories = '${socketDir}'\n${tlsLines}`,
  );
  writeFileSync(join(dataDir, "pg_hba.conf"), `${options.hba ?? DEFAULT_HBA}\n`);
  chownTo(join(dataDir, "postgresql.conf"), user);
  chownTo(join(dataDir, "pg_hba.conf"), user);

  const serverProcess = new ServerProcess();
  const run = (binary: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
    runAs(user, join(POSTGRES_BIN, binary), args, { env: { HOME: temp.path, PGHOST: socketDir, PGPORT: String(port), PGSSLMODE: "verify-full", PGSSLROOTCERT: ca.caPath, ...env } });
  const psql = (sql: string, database = "postgres"): string => {
    const result = run("psql", ["-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", database, "-c", sql]);
    if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
    return result.stdout.trim();
  };

  const server: PostgresServer = {
    host: "127.0.0.1",
    port,
    dataDir,
    socketDir,
    superuserPassword,
    caPath: ca.caPath,
    caPem: ca.caPem,
    tlsEnv: { PGSSLMODE: "verify-full", PGSSLROOTCERT: ca.caPath },
    user,
    psql,
    run,
    start: () =>
      serverProcess.spawn(user, join(POSTGRES_BIN, "postgres"), ["-D", dataDir], {}, {
        what: `postgres on port ${port}`,
        ready: () => run("pg_isready", ["-q"]).status === 0,
        timeoutMs: 60_000,
      }),
    output: () => serverProcess.output(),
    stop: () => serverProcess.signal("SIGINT"),
    async destroy() {
      await server.stop();
      temp.remove();
    },
  };
  try {
    await server.start();
    for (const sql of options.initSql ?? []) {
      const applied = runAs(user, join(POSTGRES_BIN, "psql"), ["-X", "-v", "ON_ERROR_STOP=1", "-q", "-d", "postgres"], {
        env: { PGHOST: socketDir, PGPORT: String(port) },
        input: sql,
      });
      if (applied.status !== 0) throw new Error(`init SQL failed: ${applied.stderr}`);
    }
  } catch (error) {
    await server.destroy();
    throw error;
  }
  return server;
}
