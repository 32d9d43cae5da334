import { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { listensOn, startOnFreePorts, waitFor } from "./free-port";
import { captureOutput, chownTo, ownedTempDir, spawnAs, waitForExit, type ServiceUser } from "./server-process";
import { testServer } from "./test-roots";

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** The redis user of the test root: runAs with it runs the root's redis-cli, redis-check-rdb, ... */
  readonly user: ServiceUser;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL: no shutdown save, no AOF rewrite; what survives is what the config made durable. */
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * Starts redis-server (the pinned version, from its test root) as the redis user with a rendered
 * redis.conf; only port, bind and dir are overridden.
 */
export function startRedis(conf: string): Promise<RedisServer> {
  return startOnFreePorts(1, ([port]) => startRedisOn(conf, port));
}

async function startRedisOn(conf: string, port: number): Promise<RedisServer> {
  const redis = testServer("redis");
  const user = redis.user;
  const temp = ownedTempDir("redis", user);
  const confPath = join(temp.path, "redis.conf");
  // Later directives win in redis.conf, so the harness appends its overrides.
  writeFileSync(confPath, `${conf}\n# test harness\nport ${port}\nbind 127.0.0.1\ndir ${temp.path}\ndaemonize no\nlogfile ""\n`);
  chownTo(confPath, user);
  let child: ChildProcess | undefined;
  let output = () => "";
  const server: RedisServer = {
    host: "127.0.0.1",
    port,
    dir: temp.path,
    user,
    async start() {
      child = spawnAs(user, redis.binary, [confPath]);
      output = captureOutput(child);
      const started = child;
      await waitFor(`redis on port ${port}`, async () => {
        if (started.exitCode !== null) throw new Error(`redis-server exited ${started.exitCode}: ${output()}`);
        return started.pid !== undefined && listensOn(started.pid, port);
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
  try {
    await server.start();
  } catch (error) {
    await server.destroy();
    throw error;
  }
  return server;
}
