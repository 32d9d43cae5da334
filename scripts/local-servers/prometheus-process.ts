// Prometheus, Alertmanager and the exporters, run from their test roots with a Workload's own
// arguments, environment and files (the monitoring end-to-end test starts every one of them this way).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ServerName } from "../../components/config/server-versions";
import { listensOn, startOnFreePorts } from "./free-port";
import { chownTo, ownedTempDir, ServerProcess, startOrCleanUp, type ServiceUser } from "./server-process";
import { testServer } from "./test-roots";

export interface PrometheusProcessOptions {
  /** Which pinned program (its root, binary and user: components/config/server-versions.ts). */
  server: ServerName;
  /** The Workload's args (what replaces the image's CMD after its ENTRYPOINT). */
  args?: string[];
  env?: Record<string, string>;
  /** The Workload's files, at their deployed paths. */
  files?: { path: string; content: string; mode?: number }[];
  /** Directories the program writes (its storage volumes), at their deployed paths. */
  dirs?: string[];
  /** The program's own deployed address ("prometheus:9090", which it scrapes): becomes its loopback one. */
  ownAddress?: string;
  /** An HTTP path on the program's listener that answers 200 once it serves. */
  readyPath: string;
}

export interface PrometheusProcess {
  readonly server: ServerName;
  readonly host: string;
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** Where the deployed paths were placed: a deployed path P is `${dir}${P}`. */
  readonly dir: string;
  readonly user: ServiceUser;
  /** What the program printed since its last start (for failure messages). */
  output(): string;
  start(): Promise<void>;
  /** SIGTERM, as a container stop does. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/** `--web.listen-address=...` as every Prometheus-family program spells it (Go flags take `--` too). */
const LISTEN_FLAG = /^--?web\.listen-address(=|$)/;

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Every mention of a deployed path in `text`, replaced by where the harness put it. A path counts
 * only as a whole word of a path (after a start, blank, `=`, quote, `:` or `[`; before an end,
 * blank, `/`, quote, `,` or `]`), so /prometheus is not found inside http://prometheus.example/,
 * and one pass with the longest alternative first never rewrites a rewritten path again.
 */
export function relocatePaths(text: string, deployed: readonly string[], dir: string): string {
  if (deployed.length === 0) return text;
  const alternatives = [...new Set(deployed)].sort((a, b) => b.length - a.length).map(escape).join("|");
  return text.replace(new RegExp(`(?<=^|[\\s="':\\[])(${alternatives})(?=$|[\\s/"',\\]])`, "gm"), (path) => `${dir}${path}`);
}

/**
 * Starts one Prometheus-family program (the pinned version, from its test root) as that root's
 * own user with a Workload's args, environment and files. Only two things change: each deployed
 * path becomes a path under the program's own temporary directory (in args, environment and file
 * contents alike), and the listen address (and the program's own address, when it names it) becomes a free loopback port (a trailing
 * --web.listen-address, which every one of these programs takes and which wins over an
 * environment default such as REDIS_EXPORTER_WEB_LISTEN_ADDRESS). Addresses of other workloads
 * are the caller's to rewrite: it knows where each of them listens.
 */
export function startPrometheusProcess(options: PrometheusProcessOptions): Promise<PrometheusProcess> {
  return startOnFreePorts(1, ([port]) => startOn(options, port));
}

async function startOn(options: PrometheusProcessOptions, port: number): Promise<PrometheusProcess> {
  const program = testServer(options.server);
  const user = program.user;
  const temp = ownedTempDir(options.server.toLowerCase(), user);
  const files = options.files ?? [];
  const deployed = [...files.map((f) => f.path), ...(options.dirs ?? [])];
  const url = `http://127.0.0.1:${port}`;
  const relocate = (text: string) => {
    const placed = relocatePaths(text, deployed, temp.path);
    return options.ownAddress === undefined ? placed : placed.split(options.ownAddress).join(`127.0.0.1:${port}`);
  };
  const own = (path: string) => {
    // Each level below the temporary directory belongs to the program's user, as a volume would.
    const parts = path.slice(temp.path.length + 1).split("/");
    for (let i = 1; i <= parts.length; i++) chownTo(join(temp.path, ...parts.slice(0, i)), user);
  };
  for (const dir of options.dirs ?? []) {
    mkdirSync(`${temp.path}${dir}`, { recursive: true });
    own(`${temp.path}${dir}`);
  }
  for (const file of files) {
    const target = `${temp.path}${file.path}`;
    mkdirSync(dirname(target), { recursive: true });
    own(dirname(target));
    writeFileSync(target, relocate(file.content));
    chmodSync(target, file.mode ?? 0o644);
    chownTo(target, user);
  }
  const args = [...(options.args ?? []).filter((arg) => !LISTEN_FLAG.test(arg)).map(relocate), `--web.listen-address=127.0.0.1:${port}`];
  const env = Object.fromEntries(Object.entries(options.env ?? {}).map(([k, v]) => [k, relocate(v)]));

  const serverProcess = new ServerProcess();
  const handle: PrometheusProcess = {
    server: options.server,
    host: "127.0.0.1",
    port,
    url,
    dir: temp.path,
    user,
    output: () => serverProcess.output(),
    start: () =>
      serverProcess.spawn(user, program.binary, args, env, {
        what: `${options.server} on port ${port}`,
        ready: async (child) => child.pid !== undefined && listensOn(child.pid, port) && (await fetch(`${url}${options.readyPath}`)).status === 200,
        timeoutMs: 60_000,
        everyMs: 200,
      }),
    stop: () => serverProcess.signal("SIGTERM"),
    async destroy() {
      await handle.stop();
      temp.remove();
    },
  };
  return startOrCleanUp(handle, handle.destroy);
}
