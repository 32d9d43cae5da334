import { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, portOpen, waitFor } from "./free-port";
import { captureOutput, chownTo, ownedTempDir, runAs, serviceUser, spawnAs, waitForExit } from "./server-process";

const RABBIT_BIN = process.env.RABBITMQ_BIN ?? "/usr/lib/rabbitmq/bin";

export interface RabbitNodeOptions {
  /** Rendered rabbitmq.conf; listener ports and load_definitions are replaced by the harness. */
  conf?: string;
  /** Rendered definitions.json, loaded at boot through load_definitions. */
  definitions?: string;
  plugins?: string[];
}

export interface RabbitNode {
  readonly host: string;
  readonly amqpPort: number;
  readonly managementPort: number;
  readonly prometheusPort: number;
  readonly nodeName: string;
  /** rabbitmqctl against this node; throws on a non-zero exit. */
  ctl(args: string[]): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  destroy(): Promise<void>;
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
export async function startRabbit(options: RabbitNodeOptions = {}): Promise<RabbitNode> {
  const user = serviceUser("rabbitmq");
  const temp = ownedTempDir("rabbit", user);
  const [amqpPort, distPort, managementPort, prometheusPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const nodeName = `fundament-${process.pid}-${amqpPort}@localhost`;
  const plugins = options.plugins ?? ["rabbitmq_management", "rabbitmq_prometheus"];
  const overrides: Record<string, string> = {
    "listeners.tcp.default": String(amqpPort),
    "management.tcp.port": String(managementPort),
    "management.tcp.ip": "127.0.0.1",
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
  writeFileSync(confPath, overrideRabbitConf(options.conf ?? "", overrides));
  const pluginsPath = join(temp.path, "enabled_plugins");
  writeFileSync(pluginsPath, `[${plugins.join(",")}].\n`);
  const cookiePath = join(temp.path, ".erlang.cookie");
  writeFileSync(cookiePath, `fundamenttest${amqpPort}${Math.random().toString(36).slice(2)}`.toUpperCase(), { mode: 0o400 });
  for (const path of [confPath, pluginsPath, cookiePath]) chownTo(path, user);

  const env: NodeJS.ProcessEnv = {
    HOME: temp.path,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(amqpPort),
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
    const result = runAs(user, join(RABBIT_BIN, "rabbitmqctl"), ["-n", nodeName, ...args], { env, timeoutMs: 60_000 });
    if (result.status !== 0) throw new Error(`rabbitmqctl ${args.join(" ")} failed: ${result.stderr || result.stdout}`);
    return result.stdout;
  };
  let child: ChildProcess | undefined;
  let output = () => "";
  const node: RabbitNode = {
    host: "127.0.0.1",
    amqpPort,
    managementPort,
    prometheusPort,
    nodeName,
    ctl,
    async start() {
      child = spawnAs(user, join(RABBIT_BIN, "rabbitmq-server"), [], env);
      output = captureOutput(child);
      const started = child;
      await waitFor(
        `rabbitmq node ${nodeName}`,
        async () => {
          if (started.exitCode !== null) throw new Error(`rabbitmq-server exited ${started.exitCode}: ${output()}`);
          return portOpen(amqpPort);
        },
        90_000,
        250,
      );
      ctl(["await_startup", "--timeout", "60"]);
    },
    async stop() {
      if (!child) return;
      const running = child;
      child = undefined;
      runAs(user, join(RABBIT_BIN, "rabbitmqctl"), ["-n", nodeName, "shutdown"], { env, timeoutMs: 60_000 });
      await waitForExit(running, 60_000);
    },
    async kill() {
      if (!child) return;
      const running = child;
      child = undefined;
      // The Erlang VM is a grandchild of the shell wrapper: kill it by its pid file.
      runAs(undefined, "sh", ["-c", `kill -9 $(cat ${env.RABBITMQ_PID_FILE}) 2>/dev/null; true`]);
      running.kill("SIGKILL");
      await waitForExit(running);
      // The VM may hold its listener a moment after the kill; a start() before it lets go would
      // mistake the dying node for a started one.
      await waitFor(`rabbitmq node ${nodeName} to release port ${amqpPort}`, async () => !(await portOpen(amqpPort)), 30_000);
    },
    async destroy() {
      await node.stop();
      temp.remove();
    },
  };
  await node.start();
  return node;
}
