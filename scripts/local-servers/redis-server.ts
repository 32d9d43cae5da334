import { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, portOpen, waitFor } from "./free-port";
import { captureOutput, ownedTempDir, serviceUser, spawnAs, waitForExit } from "./server-process";

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL: no shutdown save, no AOF rewrite; what survives is what the config made durable. */
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

/** Starts redis-server with a rendered redis.conf; only port, bind and dir are overridden. */
export async function startRedis(conf: string): Promise<RedisServer> {
  const user = serviceUser("redis");
  const temp = ownedTempDir("redis", user);
  const port = await freePort();
  const confPath = join(temp.path, "redis.conf");
  // Later directives win in redis.conf, so the harness appends its overrides.
  writeFileSync(confPath, `${conf}\n# test harness\nport ${port}\nbind 127.0.0.1\ndir ${temp.path}\ndaemonize no\nlogfile ""\n`);
  let child: ChildProcess | undefined;
  let output = () => "";
  const server: RedisServer = {
    host: "127.0.0.1",
    port,
    dir: temp.path,
    async start() {
      child = spawnAs(user, "redis-server", [confPath]);
      output = captureOutput(child);
      const started = child;
      await waitFor(`redis on port ${port}`, async () => {
        if (started.exitCode !== null) throw new Error(`redis-server exited ${started.exitCode}: ${output()}`);
        return portOpen(port);
      });
    },
    async stop() {
      if (!child) return;
      child.kill("SIGTERM");
      await waitForExit(child);
      child = undefined;
    },
    async kill() {
      if (!child) return;
      child.kill("SIGKILL");
      await waitForExit(child);
      child = undefined;
    },
    async destroy() {
      await server.kill();
      temp.remove();
    },
  };
  await server.start();
  return server;
}
