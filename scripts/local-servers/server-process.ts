import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from "node:child_process";
import { chownSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { SERVER_VERSIONS, type ServerVersion } from "../../components/config/server-versions";
import { WaitAbandoned, waitFor } from "./free-port";
import { inRoot, rootUser, sharedTempDir } from "./test-roots";

export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
  /** The test-server root the user belongs to: what runs as this user runs inside it (test-roots.ts). */
  root?: string;
}

/**
 * The service user `name` of the test-server root that runs its servers (postgres → the
 * PostgreSQL root, redis → the Redis root, ...): uids are the root's, not the host's. Programs
 * started with spawnAs/runAs as this user run inside that root, at the pinned versions.
 */
export function serviceUser(name: string): ServiceUser {
  const server = Object.values(SERVER_VERSIONS as Record<string, ServerVersion>).find((s) => s.user === name);
  if (!server) throw new Error(`no server of components/config/server-versions.ts runs as ${name}`);
  return rootUser(server.suite, name);
}

/** A temporary directory the service user owns (visible at the same path inside its root); removed by the returned function. */
export function ownedTempDir(prefix: string, user: ServiceUser | undefined): { path: string; remove: () => void } {
  const path = mkdtempSync(join(sharedTempDir(), `fundament-${prefix}-`));
  if (user) chownSync(path, user.uid, user.gid);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function chownTo(path: string, user: ServiceUser | undefined): void {
  if (user) chownSync(path, user.uid, user.gid);
}

/**
 * A copy of a checkout file (a script the server's user runs) in `dir`, owned by `user`; returns
 * its path. Servers run inside their test root, where the checkout is not visible, and a
 * checkout in a private directory (mode 0700) would not be readable by them anyway.
 */
export function copyForServer(file: string, dir: string, user: ServiceUser | undefined): string {
  const copy = join(dir, basename(file));
  copyFileSync(file, copy);
  chownTo(copy, user);
  return copy;
}

/** How to start `command args` as `user`: inside its root (as root, which then switches), or on the host. */
function asUser(user: ServiceUser | undefined, command: string, args: string[]): { command: string; args: string[]; ids: { uid?: number; gid?: number } } {
  if (user?.root !== undefined) return { ...inRoot({ ...user, root: user.root }, command, args), ids: {} };
  return { command, args, ids: user ? { uid: user.uid, gid: user.gid } : {} };
}

/**
 * Servers still running when the test process exits. A hook that times out leaves its start-up
 * running with nobody holding the handle to stop it; without this, those servers outlive the run
 * and take the machine's memory and ports from every later test.
 */
const liveServers = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveServers) child.kill("SIGTERM");
});

export function spawnAs(user: ServiceUser | undefined, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const run = asUser(user, command, args);
  const child = spawn(run.command, run.args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...run.ids,
  });
  liveServers.add(child);
  child.once("exit", () => liveServers.delete(child));
  return child;
}

export function runAs(
  user: ServiceUser | undefined,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): SpawnSyncReturns<string> {
  const run = asUser(user, command, args);
  const result = spawnSync(run.command, run.args, {
    env: { ...process.env, ...options.env },
    input: options.input,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 120_000,
    ...run.ids,
  });
  return result;
}

export function runAsOrThrow(...params: Parameters<typeof runAs>): string {
  const result = runAs(...params);
  if (result.status !== 0) {
    throw new Error(`${params[1]} ${params[2].join(" ")} exited ${result.status ?? result.signal}: ${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

/** Collects a child's output so a failed start can say why. */
export function captureOutput(child: ChildProcess): () => string {
  let output = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  return () => output;
}

export function waitForExit(child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** How ServerProcess.spawn knows the server is up. */
export interface Readiness {
  /** What the wait is for, as the timeout message says it ("redis on port 40123"). */
  what: string;
  ready: (child: ChildProcess, output: () => string) => boolean | Promise<boolean>;
  timeoutMs?: number;
  everyMs?: number;
}

/**
 * The one process behind a harness server, started and stopped the same way by every harness.
 * A server that exits while it starts fails the start at once, with what it printed, rather
 * than at the wait's timeout: startOnFreePorts then retries a taken port without delay.
 */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private captured: () => string = () => "";

  /** What the process printed since its last start (the last 8000 characters). */
  output(): string {
    return this.captured();
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async spawn(user: ServiceUser | undefined, command: string, args: string[], env: NodeJS.ProcessEnv, readiness: Readiness): Promise<void> {
    const child = spawnAs(user, command, args, env);
    this.child = child;
    this.captured = captureOutput(child);
    await waitFor(
      readiness.what,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new WaitAbandoned(`${basename(command)} exited ${child.exitCode ?? child.signalCode}: ${this.captured()}`);
        }
        return readiness.ready(child, this.captured);
      },
      readiness.timeoutMs,
      readiness.everyMs,
    );
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`); nothing when not running. */
  async signal(signal: NodeJS.Signals, timeoutMs?: number): Promise<void> {
    const running = this.detach();
    if (!running) return;
    running.kill(signal);
    await waitForExit(running, timeoutMs);
  }

  /** Hands the running child to a caller that stops it another way (rabbitmqctl shutdown). */
  detach(): ChildProcess | undefined {
    const running = this.child;
    this.child = undefined;
    return running;
  }
}

/**
 * Starts a new server handle; when that fails, `cleanUp` stops what did start and removes its
 * temporary directory before the error goes on (startOnFreePorts may try again on new ports).
 */
export async function startOrCleanUp<T extends { start(): Promise<void> }>(handle: T, cleanUp: () => Promise<void>): Promise<T> {
  try {
    await handle.start();
  } catch (error) {
    await cleanUp();
    throw error;
  }
  return handle;
}
