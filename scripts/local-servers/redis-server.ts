import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { listensOn, startOnFreePorts } from "./free-port";
import { chownTo, ownedTempDir, ServerProcess, startOrCleanUp, type ServiceUser } from "./server-process";
import { testServer } from "./test-roots";
import { renderRedisTlsDirectives } from "../../components/database/redis/redis-conf";
import { testPki } from "./shared-test-pki";

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** The port speaks TLS only (a leaf of testPki()'s CA for "localhost"); the plain port is off. */
  readonly tls: boolean;
  /** The redis user of the test root: runAs with it runs the root's redis-cli, redis-check-rdb, ... */
  readonly user: ServiceUser;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL: no shutdown save, no AOF rewrite; what survives is what the config made durable. */
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

export interface RedisStartOptions {
  /**
   * Add the platform's TLS listener (renderRedisTlsDirectives) with a leaf of testPki(), for a
   * conf that is not a rendered one. A rendered conf carries its own TLS lines already.
   */
  tls?: boolean;
}

/**
 * Starts redis-server (the pinned version, from its test root) as the redis user with a rendered
 * redis.conf; only the listening port, bind and dir are overridden. A conf with `tls-port` (the
 * rendered one) keeps TLS on the port and the plain port off.
 */
export function startRedis(conf: string, options: RedisStartOptions = {}): Promise<RedisServer> {
  return startOnFreePorts(1, ([port]) => startRedisOn(conf, port, options));
}

async function startRedisOn(conf: string, port: number, options: RedisStartOptions): Promise<RedisServer> {
  const redis = testServer("redis");
  const user = redis.user;
  const temp = ownedTempDir("redis", user);
  const confPath = join(temp.path, "redis.conf");
  const added = options.tls ? renderRedisTlsDirectives(testPki().filesFor(temp.path, user), port) : [];
  const tls = added.length > 0 || /^tls-port /m.test(conf);
  const listener = tls ? `port 0\ntls-port ${port}` : `port ${port}`;
  // Later directives win in redis.conf, so the harness appends its overrides.
  writeFileSync(confPath, `${conf}\n${added.join("\n")}\n# test harness\n${listener}\nbind 127.0.0.1\ndir ${temp.path}\ndaemonize no\nlogfile ""\n`);
  chownTo(confPath, user);
  const serverProcess = new ServerProcess();
  const server: RedisServer = {
    host: "127.0.0.1",
    port,
    dir: temp.path,
    tls,
    user,
    start: () =>
      serverProcess.spawn(user, redis.binary, [confPath], {}, { what: `redis on port ${port}`, ready: (child) => child.pid !== undefined && listensOn(child.pid, port) }),
    stop: () => serverProcess.signal("SIGTERM"),
    kill: () => serverProcess.signal("SIGKILL"),
    async destroy() {
      await server.kill();
      temp.remove();
    },
  };
  return startOrCleanUp(server, server.destroy);
}
