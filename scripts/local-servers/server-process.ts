import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** postgres, pgbouncer and rabbitmq refuse to run as root: tests run them as their service user. */
const isRoot = process.getuid?.() === 0;

export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
}

export function serviceUser(name: string): ServiceUser | undefined {
  if (!isRoot) return undefined;
  const uid = Number(spawnSync("id", ["-u", name]).stdout.toString().trim());
  const gid = Number(spawnSync("id", ["-g", name]).stdout.toString().trim());
  if (!Number.isInteger(uid) || uid <= 0) throw new Error(`user ${name} does not exist on this machine`);
  return { name, uid, gid };
}

/** A temporary directory the service user owns; removed by the returned function. */
export function ownedTempDir(prefix: string, user: ServiceUser | undefined): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `fundament-${prefix}-`));
  if (user) chownSync(path, user.uid, user.gid);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function chownTo(path: string, user: ServiceUser | undefined): void {
  if (user) chownSync(path, user.uid, user.gid);
}

export function spawnAs(user: ServiceUser | undefined, command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  });
}

export function runAs(
  user: ServiceUser | undefined,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, {
    env: { ...process.env, ...options.env },
    input: options.input,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 120_000,
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
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
