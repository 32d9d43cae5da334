import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { listensOn, startOnFreePorts } from "./free-port";
import { chownTo, ownedTempDir, ServerProcess, startOrCleanUp, type ServiceUser } from "./server-process";
import { harnessCa, harnessLeafName } from "./harness-ca";
import { testServer } from "./test-roots";

export interface PgBouncerOptions {
  /** Rendered pgbouncer.ini; the harness replaces listen address, port, auth_file, unix_socket_dir and pidfile. */
  ini: string;
  /** Rendered userlist.txt, written where the appended auth_file points. */
  userlist: string;
  /**
   * "harness" (default): PgBouncer gets a leaf of the harness CA for localhost, 127.0.0.1 and ::1
   * and verifies PostgreSQL against the harness CA (the harness's PostgreSQL leaves chain to it).
   * "rendered": the ini's TLS file settings stay as rendered.
   */
  tls?: "harness" | "rendered";
}

export interface PgBouncerServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** The CA PgBouncer's certificate chains to. */
  readonly caPath: string;
  readonly caPem: string;
  /** The user PgBouncer runs as, in its test root (runAs with it runs the root's programs). */
  readonly user: ServiceUser;
  /** What PgBouncer printed so far (for failure messages). */
  output(): string;
  /** Starts it again after stop(), with the same files and port. */
  start(): Promise<void>;
  /** SIGTERM: PgBouncer (1.23 on) then waits for every client to leave, up to the harness's 30 s. */
  stop(): Promise<void>;
  /** SIGKILL: gone at once, clients cut off (a crash, or a test done with a client it holds). */
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * Replaces (or adds) `key = value` lines of the [pgbouncer] section so the harness's values win.
 * A second [pgbouncer] section would not do: PgBouncer 1.18 then ignores the first one's keys.
 */
export function overridePgBouncerIni(ini: string, overrides: Record<string, string>): string {
  const keys = new Set(Object.keys(overrides));
  const kept = ini.split("\n").filter((line) => !keys.has(line.split("=")[0]?.trim() ?? ""));
  const sections = kept.filter((line) => /^\s*\[.*\]\s*$/.test(line));
  const lastIsPgBouncer = sections.length > 0 && sections[sections.length - 1].trim() === "[pgbouncer]";
  return [...kept, ...(lastIsPgBouncer ? [] : ["[pgbouncer]"]), "; test harness", ...Object.entries(overrides).map(([k, v]) => `${k} = ${v}`), ""].join("\n");
}

/**
 * Starts pgbouncer (the pinned version, from its test root) with a rendered pgbouncer.ini as the
 * postgres user (it refuses root), on a free loopback port.
 */
export function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncerServer> {
  return startOnFreePorts(1, ([port]) => startPgBouncerOn(options, port));
}

async function startPgBouncerOn(options: PgBouncerOptions, port: number): Promise<PgBouncerServer> {
  const pgbouncer = testServer("pgbouncer");
  const user = pgbouncer.user;
  const temp = ownedTempDir("pgbouncer", user);
  const userlistPath = join(temp.path, "userlist.txt");
  const iniPath = join(temp.path, "pgbouncer.ini");
  writeFileSync(userlistPath, options.userlist, { mode: 0o600 });
  const ca = harnessCa();
  let tls: Record<string, string> = {};
  if ((options.tls ?? "harness") === "harness") {
    const leaf = ca.leaf(harnessLeafName("pgbouncer"), ["localhost"], { dir: temp.path, owner: user, ips: ["127.0.0.1", "::1"] });
    tls = { client_tls_key_file: leaf.keyPath, client_tls_cert_file: leaf.certPath, client_tls_ca_file: ca.caPath, server_tls_ca_file: ca.caPath };
  }
  writeFileSync(
    iniPath,
    overridePgBouncerIni(options.ini, {
      ...tls,
      listen_addr: "127.0.0.1",
      listen_port: String(port),
      auth_file: userlistPath,
      unix_socket_dir: "",
      pidfile: join(temp.path, "pgbouncer.pid"),
    }),
  );
  chownTo(userlistPath, user);
  chownTo(iniPath, user);
  const serverProcess = new ServerProcess();
  const server: PgBouncerServer = {
    host: "127.0.0.1",
    port,
    dir: temp.path,
    caPath: ca.caPath,
    caPem: ca.caPem,
    user,
    output: () => serverProcess.output(),
    start: () =>
      serverProcess.spawn(user, pgbouncer.binary, [iniPath], {}, { what: `pgbouncer on port ${port}`, ready: (child) => child.pid !== undefined && listensOn(child.pid, port) }),
    stop: () => serverProcess.signal("SIGTERM"),
    kill: () => serverProcess.signal("SIGKILL"),
    async destroy() {
      await server.stop();
      temp.remove();
    },
  };
  return startOrCleanUp(server, server.destroy);
}
