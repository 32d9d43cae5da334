// The Debian roots the harness runs servers from, at the versions the stacks pin
// (components/config/server-versions.ts), and how to run a program inside one.
//
// A server runs as `unshare --mount` → `chroot --userspec` → the binary, all by exec, so the
// process the harness spawns is the server itself (signals and exit codes reach it directly).
// In its private mount namespace the root gets the host's /dev, /proc, /sys and the temporary
// directory bound at the same paths: a file the harness writes to /tmp/x is /tmp/x for the
// server too. Nothing of the checkout is visible inside, so whatever a server must read is
// copied into its own temporary directory (which also makes a checkout in a private, mode 0700
// directory work: no server ever needs to enter it).
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVER_VERSIONS, SUITE_EXTRA_PACKAGES, type ServerName, type ServerVersion, type TestSuite } from "../../components/config/server-versions";
import type { ServiceUser } from "./server-process";

export const TEST_SUITES: readonly TestSuite[] = ["trixie", "forky"];

/** Outside any checkout, so every clone on the machine shares the roots. */
export const TEST_ROOTS_DIR = process.env.FUNDAMENT_TEST_ROOTS ?? "/var/cache/fundament/test-roots";

export const BUILD_COMMAND = "scripts/install-test-prerequisites.sh (or: npx tsx scripts/local-servers/build-test-roots.ts)";

export function testRootPath(suite: TestSuite): string {
  return join(TEST_ROOTS_DIR, suite);
}

/** The packages a suite's root holds: the servers recorded for it and the clients the tests run. */
export function rootPackages(suite: TestSuite): string[] {
  const servers = Object.values(SERVER_VERSIONS as Record<string, ServerVersion>).filter((s) => s.suite === suite).map((s) => s.debianPackage);
  return [...new Set([...servers, ...SUITE_EXTRA_PACKAGES[suite]])].sort();
}

/** The root of a suite; throws, with the command that builds it, when it is missing or incomplete. */
export function requireTestRoot(suite: TestSuite): string {
  const root = testRootPath(suite);
  const stampPath = join(root, "etc", "fundament-test-root");
  const stamp = existsSync(stampPath) ? readFileSync(stampPath, "utf8").split("\n") : [];
  const missing = rootPackages(suite).filter((pkg) => !stamp.includes(pkg));
  if (missing.length > 0) {
    throw new Error(`test-server root ${root} ${stamp.length === 0 ? "is not built" : `lacks ${missing.join(", ")}`}: run ${BUILD_COMMAND}`);
  }
  return root;
}

/** A user of a root, by the root's own passwd (its uids differ from the host's). */
export function rootUser(suite: TestSuite, name: string): ServiceUser {
  if (process.getuid?.() !== 0) {
    throw new Error(`running ${name}'s server from the ${suite} test root needs root (chroot); run the tests as root`);
  }
  const root = requireTestRoot(suite);
  const entry = readFileSync(join(root, "etc", "passwd"), "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[0] === name);
  if (!entry) throw new Error(`user ${name} does not exist in the ${suite} test root ${root}`);
  return { name, uid: Number(entry[2]), gid: Number(entry[3]), root };
}

export interface TestServer {
  readonly name: ServerName;
  readonly version: ServerVersion;
  /** The server's own user inside its root: pass it to spawnAs/runAs (server-process.ts). */
  readonly user: ServiceUser;
  /** The server binary's path inside the root. */
  readonly binary: string;
  /** Another program of the same root ("promtool", "pg_dump", "/usr/bin/amtool"), as a path inside it. */
  bin(program: string): string;
}

/**
 * How to run server X at its pinned version: its user and binary inside its test root.
 *
 *   const prometheus = testServer("prometheus");
 *   const child = spawnAs(prometheus.user, prometheus.binary, ["--config.file", file]);
 *   runAs(prometheus.user, prometheus.bin("promtool"), ["check", "config", file]);
 */
export function testServer(name: ServerName): TestServer {
  const version: ServerVersion = SERVER_VERSIONS[name];
  const user = rootUser(version.suite, version.user);
  const binDir = version.binary.slice(0, version.binary.lastIndexOf("/"));
  const bin = (program: string): string => {
    if (program.startsWith("/")) return program;
    for (const dir of [binDir, "/usr/bin", "/usr/sbin"]) {
      if (existsSync(join(user.root ?? "/", dir, program))) return join(dir, program);
    }
    throw new Error(`${program} is not in the ${version.suite} test root (looked in ${binDir}, /usr/bin, /usr/sbin)`);
  };
  return { name, version, user, binary: version.binary, bin };
}

/** The directory temporary dirs are made in, bound into every root at the same path. */
export function sharedTempDir(): string {
  return realpathSync(tmpdir());
}

const ENTER_ROOT = [
  "set -e",
  'root="$1"; shared="$2"; uid="$3"; gid="$4"; shift 4',
  'for fs in dev proc sys; do mount --rbind "/$fs" "$root/$fs"; done',
  'mkdir -p "$root$shared"',
  'mount --rbind "$shared" "$root$shared"',
  'exec chroot --userspec="$uid:$gid" --groups="$gid" "$root" "$@"',
].join("\n");

/** The command line that runs `command args` inside `user`'s root as that user. */
export function inRoot(user: ServiceUser & { root: string }, command: string, args: string[]): { command: string; args: string[] } {
  return {
    command: "unshare",
    args: ["--mount", "--", "/bin/sh", "-c", ENTER_ROOT, "sh", user.root, sharedTempDir(), String(user.uid), String(user.gid), command, ...args],
  };
}
