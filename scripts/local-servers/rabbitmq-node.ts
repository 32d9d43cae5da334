import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listensOn, startOnFreePorts, WaitAbandoned, waitFor } from "./free-port";
import { chownTo, ownedTempDir, runAs, ServerProcess, startOrCleanUp, waitForExit, type ServiceUser } from "./server-process";
import { testServer } from "./test-roots";
import { renderRabbitTlsConf, type RabbitTlsFiles } from "../../components/broker/rabbitmq-conf";
import { testPki } from "./shared-test-pki";

export interface RabbitNodeOptions {
  /**
   * Rendered rabbitmq.conf; listener ports and load_definitions are replaced by the harness. As a
   * function it is given the paths of a testPki() leaf the node can read, to render the conf with.
   */
  conf?: string | ((tls: RabbitTlsFiles) => string);
  /** Rendered definitions.json, loaded at boot through load_definitions. */
  definitions?: string;
  plugins?: string[];
  /**
   * Add the platform's AMQPS and management TLS listeners (renderRabbitTlsConf) with a leaf of
   * testPki(), for a conf that is not a rendered one; a rendered conf carries its own.
   */
  tls?: boolean;
}

export interface RabbitNode {
  readonly host: string;
  /** AMQPS when `tls` (plain AMQP is then off), else AMQP. */
  readonly amqpPort: number;
  /** HTTPS when `tls`. */
  readonly managementPort: number;
  /** Both listeners speak TLS with a leaf of testPki()'s CA for "localhost". */
  readonly tls: boolean;
  readonly prometheusPort: number;
  readonly nodeName: string;
  /** The rabbitmq user of the test root: runAs with it runs the root's programs. */
  readonly user: ServiceUser;
  /** The node's own directory (config, definitions, cookie, data, logs). */
  readonly dir: string;
  /** rabbitmqctl against this node; throws on a non-zero exit. */
  ctl(args: string[]): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

/** Whether pid runs (a zombie waiting for its reaper holds no listener any more). */
function processAlive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Replaces (or adds) `key = value` lines of a rabbitmq.conf so the harness's ports win. */
export function overrideRabbitConf(conf: string, overrides: Record<string, string>): string {
  const keys = new Set(Object.keys(overrides));
  const kept = conf.split("\n").filter((line) => !keys.has(line.split("=")[0]?.trim() ?? ""));
  return [...kept, "# test harness", ...Object.entries(overrides).map(([k, v]) => `${k} = ${v}`), ""].join("\n");
}

/**
 * Starts a separate RabbitMQ node (about 20 s) as the rabbitmq user, with its own node name,
 * cookie, mnesia and log dirs, and distribution port, beside any node already running.
 */
export function startRabbit(options: RabbitNodeOptions = {}): Promise<RabbitNode> {
  return startOnFreePorts(4, (ports) => startRabbitOn(options, ports));
}

async function startRabbitOn(options: RabbitNodeOptions, [amqpPort, distPort, managementPort, prometheusPort]: number[]): Promise<RabbitNode> {
  const rabbit = testServer("rabbitmq");
  const user = rabbit.user;
  const ctlPath = rabbit.bin("rabbitmqctl");
  const temp = ownedTempDir("rabbit", user);
  const nodeName = `fundament-${process.pid}-${amqpPort}@localhost`;
  const plugins = options.plugins ?? ["rabbitmq_management", "rabbitmq_prometheus"];
  const needsFiles = options.tls === true || typeof options.conf === "function";
  const tlsFiles = needsFiles ? testPki().filesFor(temp.path, user) : undefined;
  const given = typeof options.conf === "function" ? options.conf(tlsFiles!) : (options.conf ?? "");
  const added = options.tls ? renderRabbitTlsConf(tlsFiles!).join("\n") : "";
  const conf = [given, added].join("\n");
  const tls = /^listeners\.ssl\.default\s*=/m.test(conf);
  // The rendered conf's listeners stay what they are (TLS, plain off); only where they listen moves.
  const listeners: Record<string, string> = tls
    ? { "listeners.ssl.default": `127.0.0.1:${amqpPort}`, "management.ssl.port": String(managementPort), "management.ssl.ip": "127.0.0.1" }
    : { "listeners.tcp.default": `127.0.0.1:${amqpPort}`, "management.tcp.port": String(managementPort), "management.tcp.ip": "127.0.0.1" };
  const overrides: Record<string, string> = {
    ...listeners,
    "prometheus.tcp.port": String(prometheusPort),
    "prometheus.tcp.ip": "127.0.0.1",
  };
  if (options.definitions !== undefined) {
    const definitionsPath = join(temp.path, "definitions.json");
    writeFileSync(definitionsPath, options.definitions);
    chownTo(definitionsPath, user);
    overrides.load_definitions = definitionsPath;
  }
  const confPath = join(temp.path, "rabbitmq.conf");
  writeFileSync(confPath, overrideRabbitConf(conf, overrides));
  const pluginsPath = join(temp.path, "enabled_plugins");
  writeFileSync(pluginsPath, `[${plugins.join(",")}].\n`);
  const cookiePath = join(temp.path, ".erlang.cookie");
  writeFileSync(cookiePath, `fundamenttest${amqpPort}${Math.random().toString(36).slice(2)}`.toUpperCase(), { mode: 0o400 });
  for (const path of [confPath, pluginsPath, cookiePath]) chownTo(path, user);

  const env: NodeJS.ProcessEnv = {
    HOME: temp.path,
    RABBITMQ_NODENAME: nodeName,
    // These would add a plain AMQP listener over the conf's `listeners.tcp = none`.
    ...(tls ? {} : { RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1", RABBITMQ_NODE_PORT: String(amqpPort) }),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: confPath,
    RABBITMQ_ENABLED_PLUGINS_FILE: pluginsPath,
    RABBITMQ_MNESIA_BASE: join(temp.path, "mnesia"),
    RABBITMQ_LOG_BASE: join(temp.path, "log"),
    RABBITMQ_PID_FILE: join(temp.path, "rabbit.pid"),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(temp.path, "advanced.config"),
    RABBITMQ_CONF_ENV_FILE: join(temp.path, "rabbitmq-env.conf"),
  };
  const ctl = (args: string[]): string => {
    const result = runAs(user, ctlPath, ["-n", nodeName, ...args], { env, timeoutMs: 60_000 });
    if (result.status !== 0) throw new Error(`rabbitmqctl ${args.join(" ")} failed: ${result.stderr || result.stdout}`);
    return result.stdout;
  };
  const serverProcess = new ServerProcess();
  const pidFile = env.RABBITMQ_PID_FILE as string;
  const node: RabbitNode = {
    host: "127.0.0.1",
    amqpPort,
    managementPort,
    prometheusPort,
    tls,
    nodeName,
    user,
    dir: temp.path,
    ctl,
    async start() {
      await serverProcess.spawn(user, rabbit.binary, [], env, {
        what: `rabbitmq node ${nodeName}`,
        ready: (_child, output) => {
          // A listener whose port was taken stops the boot without ending the VM: give up now, and let the caller retry on new ports.
          if (/eaddrinuse/i.test(output())) throw new WaitAbandoned(`rabbitmq node ${nodeName} could not bind a port: ${output()}`);
          // The listener must be this node's Erlang VM (it writes the pid file), not whoever took the port.
          return existsSync(pidFile) && listensOn(Number(readFileSync(pidFile, "utf8").trim()), amqpPort);
        },
        timeoutMs: 90_000,
        everyMs: 250,
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}; rabbitmq-server said: ${serverProcess.output()}`);
      });
      ctl(["await_startup", "--timeout", "60"]);
    },
    async stop() {
      const running = serverProcess.detach();
      if (!running) return;
      runAs(user, ctlPath, ["-n", nodeName, "shutdown"], { env, timeoutMs: 60_000 });
      await waitForExit(running, 60_000);
    },
    async kill() {
      if (!serverProcess.running) return;
      // The Erlang VM is a grandchild of the shell wrapper: kill it by its pid file.
      const vmPid = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : undefined;
      if (vmPid) runAs(undefined, "kill", ["-9", String(vmPid)]);
      await serverProcess.signal("SIGKILL");
      // The VM may hold its listener a moment after the kill; a start() before it is gone would
      // mistake the dying node for a started one.
      if (vmPid) await waitFor(`rabbitmq node ${nodeName} (pid ${vmPid}) to exit`, async () => !processAlive(vmPid), 30_000);
    },
    async destroy() {
      await node.stop();
      temp.remove();
    },
  };
  return startOrCleanUp(node, async () => {
    await node.kill();
    temp.remove();
  });
}
