import { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { freePort, waitFor } from "./free-port";
import { captureOutput, chownTo, ownedTempDir, serviceUser, spawnAs, waitForExit } from "./server-process";

export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN ?? "/usr/sbin/pgbouncer";

export interface PgBouncerOptions {
  /** Rendered pgbouncer.ini; the harness appends listen address, port, auth_file and pidfile. */
  ini: string;
  /** Rendered userlist.txt, written where the appended auth_file points. */
  userlist: string;
}

export interface PgBouncerServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** What PgBouncer printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts pgbouncer with a rendered pgbouncer.ini as the postgres user (it refuses root), on a
 * free loopback port. Later keys win in pgbouncer.ini, so the harness appends its overrides in a
 * second [pgbouncer] section.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncerServer> {
  const user = serviceUser("postgres");
  const temp = ownedTempDir("pgbouncer", user);
  const port = await freePort();
  const userlistPath = join(temp.path, "userlist.txt");
  const iniPath = join(temp.path, "pgbouncer.ini");
  writeFileSync(userlistPath, options.userlist, { mode: 0o600 });
  writeFileSync(
    iniPath,
    `${options.ini}\n[pgbouncer]\n; test harness\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nauth_file = ${userlistPath}\nunix_socket_dir =\npidfile = ${join(temp.path, "pgbouncer.pid")}\n`,
  );
  chownTo(userlistPath, user);
  chownTo(iniPath, user);
  let child: ChildProcess | undefined = spawnAs(user, PGBOUNCER_BIN, [iniPath]);
  const output = captureOutput(child);
  const started = child;
  await waitFor(`pgbouncer on port ${port}`, async () => {
    if (started.exitCode !== null) throw new Error(`pgbouncer exited ${started.exitCode}: ${output()}`);
    return portOpen(port);
  });
  const server: PgBouncerServer = {
    host: "127.0.0.1",
    port,
    dir: temp.path,
    output,
    async stop() {
      if (!child) return;
      child.kill("SIGTERM");
      await waitForExit(child);
      child = undefined;
    },
    async destroy() {
      await server.stop();
      temp.remove();
    },
  };
  return server;
}
