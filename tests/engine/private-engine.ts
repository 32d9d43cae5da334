import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUILD_COMMAND, sharedTempDir, testRootPath } from "../../scripts/local-servers/test-roots";
import { EngineApi } from "./engine-api";

/**
 * A Docker daemon of the test's own: data root, exec root, pidfile and socket in a temporary
 * directory, inside a network namespace of its own (`ip netns add`), so its bridges, iptables
 * rules and published ports never touch the machine's or another test's. It manages its own
 * containerd under its exec root.
 *
 * The daemon enters the namespace with `nsenter --net` rather than `ip netns exec`: the latter
 * also gives it a fresh /sys without the cgroup mounts, and dockerd refuses to start without
 * the devices cgroup.
 */
export interface PrivateEngine {
  api: EngineApi;
  /** The daemon's own version, as GET /version reports it ("28.5.2", "20.10.24+dfsg1"). */
  version: string;
  dir: string;
  netns: string;
  /** Runs a program inside the engine's network namespace (its loopback, its bridges). */
  inNamespace(program: string, args: string[]): { status: number; output: string };
  log(): string;
  /**
   * A stand-in for the world beyond the Docker host: another namespace of the test's own, joined
   * to the engine's by a veth pair, listening on `port`. Containers reach it only by being
   * routed out of their networks, so it shows which networks have a way out, and no packet
   * leaves the machine.
   */
  addOutside(port: number): { address: string };
  stop(): Promise<void>;
}

const DOCKERD = "/usr/sbin/dockerd";

/**
 * Which Docker build the daemon runs: the machine's own (Debian bookworm's docker.io 20.10), or
 * the one installed in a Debian test root (forky's docker.io 28, with its containerd and runc).
 */
export interface EngineBuild {
  /** Names the engine in test titles and messages. */
  readonly label: string;
  /** A test root (scripts/local-servers/test-roots.ts) whose dockerd runs; absent, the machine's. */
  readonly root?: string;
  /** The engine's major version must be at least this, so a test never says it ran a build it did not. */
  readonly minimumMajor: number;
}

export const HOST_ENGINE: EngineBuild = { label: "Debian bookworm's docker.io 20.10", minimumMajor: 20 };

/** The docker.io of the forky test root (SUITE_EXTRA_PACKAGES, components/config/server-versions.ts). */
export const TEST_ROOT_ENGINE: EngineBuild = { label: "Debian forky's docker.io (28 or newer)", root: testRootPath("forky"), minimumMajor: 28 };

/**
 * Runs `dockerd args` from `root` as the root of a mount namespace of its own. pivot_root, not
 * chroot: runc puts `docker exec` processes at the root of the container's mount namespace,
 * which under a chroot is still the machine's root (an exec would see the host's files). The
 * daemon gets a sysfs of its network namespace (so it finds its bridges' ports) with the
 * machine's cgroup tree on it, and the temporary directory at the same path as outside.
 */
const ENTER_ROOT = [
  "set -e",
  'root="$1"; shared="$2"; shift 2',
  'mount --bind "$root" "$root"',
  'for fs in dev proc; do mount --rbind "/$fs" "$root/$fs"; done',
  'mount -t sysfs sysfs "$root/sys"',
  'mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup"',
  'mkdir -p "$root$shared"',
  'mount --rbind "$shared" "$root$shared"',
  'cd "$root"',
  "pivot_root . mnt",
  "umount -l /mnt",
  'exec "$@"',
].join("\n");

function daemonCommand(engine: EngineBuild, args: string[]): string[] {
  if (engine.root === undefined) {
    if (!existsSync(DOCKERD)) throw new Error(`${DOCKERD} is missing: install Debian's docker.io (scripts/install-test-prerequisites.sh does)`);
    return [DOCKERD, ...args];
  }
  if (!existsSync(join(engine.root, DOCKERD))) throw new Error(`${engine.label}: ${engine.root} has no ${DOCKERD}: run ${BUILD_COMMAND}`);
  return ["unshare", "--mount", "--", "/bin/sh", "-c", ENTER_ROOT, "sh", engine.root, sharedTempDir(), DOCKERD, ...args];
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const gone = exited();
    if (gone) throw new Error(`${what}: ${gone}`);
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what}: not ready in ${timeoutMs} ms`);
}

export async function startPrivateEngine(engine: EngineBuild = HOST_ENGINE): Promise<PrivateEngine> {
  const dir = mkdtempSync(join(tmpdir(), "fundament-engine-"));
  const netns = `fundament-engine-${randomBytes(4).toString("hex")}`;
  const socket = join(dir, "docker.sock");
  execFileSync("ip", ["netns", "add", netns]);
  let daemon: ChildProcess | undefined;
  let exit: string | undefined;
  const outside = `${netns}-out`;
  let outsideListener: ChildProcess | undefined;
  const cleanup = async () => {
    outsideListener?.kill("SIGKILL");
    if (existsSync(`/run/netns/${outside}`)) execFileSync("ip", ["netns", "delete", outside], { stdio: "ignore" });
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      const exited = new Promise<void>((resolve) => daemon!.once("exit", () => resolve()));
      daemon.kill("SIGTERM");
      const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000))]);
      if (!killed) {
        daemon.kill("SIGKILL");
        await exited;
      }
    }
    // Whatever the daemon left mounted under its directories (overlay layers, the netns files).
    const mounts = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[1])
      .filter((path) => path && path.startsWith(dir))
      .sort((a, b) => b.length - a.length);
    for (const mount of mounts) execFileSync("umount", ["-l", mount], { stdio: "ignore" });
    execFileSync("ip", ["netns", "delete", netns], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync("ip", ["netns", "exec", netns, "ip", "link", "set", "lo", "up"]);
    daemon = spawn(
      "nsenter",
      [`--net=/run/netns/${netns}`, ...daemonCommand(engine, ["--data-root", join(dir, "data"), "--exec-root", join(dir, "exec"), "--pidfile", join(dir, "docker.pid"), "--host", `unix://${socket}`, "--log-level", "warn"])],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    daemon.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString("utf8")).slice(-20_000);
    });
    daemon.once("exit", (code, signal) => {
      exit = `dockerd exited (${code ?? signal}); its log ends:\n${log.slice(-3000)}`;
    });
    const api = new EngineApi(socket);
    await waitFor("private dockerd", async () => (await api.raw("GET", "/_ping", { timeoutMs: 2000 })).status === 200, 90_000, () => exit);
    const { Version: version } = await api.call<{ Version: string }>("GET", "/version");
    if (Number.parseInt(version, 10) < engine.minimumMajor) throw new Error(`${engine.label}: the daemon reports version ${version}, older than ${engine.minimumMajor}`);
    return {
      api,
      version,
      dir,
      netns,
      inNamespace: (program, args) => {
        try {
          return { status: 0, output: execFileSync("ip", ["netns", "exec", netns, program, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
        } catch (error) {
          const failed = error as { status?: number; stdout?: string; stderr?: string };
          return { status: failed.status ?? 1, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
        }
      },
      log: () => log,
      addOutside: (port) => {
        const suffix = netns.slice(-8);
        const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "ignore" });
        ip("netns", "add", outside);
        ip("link", "add", `fe${suffix}`, "netns", netns, "type", "veth", "peer", "name", `fo${suffix}`, "netns", outside);
        // TEST-NET-1: a documentation range, here only the two ends of this pair.
        ip("-n", netns, "addr", "add", "192.0.2.1/24", "dev", `fe${suffix}`);
        ip("-n", netns, "link", "set", `fe${suffix}`, "up");
        ip("-n", outside, "addr", "add", "192.0.2.2/24", "dev", `fo${suffix}`);
        ip("-n", outside, "link", "set", `fo${suffix}`, "up");
        ip("-n", outside, "link", "set", "lo", "up");
        outsideListener = spawn("ip", ["netns", "exec", outside, "busybox", "nc", "-ll", "-p", String(port), "-e", "/bin/true"], { stdio: "ignore" });
        return { address: "192.0.2.2" };
      },
      stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
