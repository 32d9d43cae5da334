import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { GpuOffer } from "../placement/rank-offers";
import { KEY_PREFIX, type InstanceState, type LaunchSpec, type ProviderAdapter, ProviderError, type ProviderInstance } from "./provider-adapter";

export interface LocalOptions {
  /** Where each instance keeps its record, working directory, output and exit code; survives a restart. */
  stateDir: string;
  /** What the dev machine offers (it has no GPU: the offer is only a stand-in). */
  offer: { gpuModel: string; gpuMemoryGiB: number; gpuCount: number; pricePerHour: number };
  /** The variables the worker inherits besides the job's own (PATH so a command can be found). */
  path: string;
}

interface LocalRecord {
  key: string;
  pid: number;
  terminated?: boolean;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The dev provider: runs the job's command (not its image) on this machine in a worker process of
 * its own, in its own session and empty working directory, with only the job's environment and
 * PATH. It never touches a container engine. The worker outlives a restart of the service; its
 * record, output and exit code stay in stateDir, so status and listOwned answer after a restart.
 */
export class LocalAdapter implements ProviderAdapter {
  readonly provider = "local" as const;

  constructor(private readonly options: LocalOptions) {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  }

  private dir(key: string): string {
    return join(this.options.stateDir, key);
  }

  async listOffers(): Promise<GpuOffer[]> {
    const { offer } = this.options;
    return [{ provider: "local", offerId: "this-machine", region: "local", spot: false, reliability: 1, ...offer }];
  }

  async launch(spec: LaunchSpec): Promise<{ instanceId: string }> {
    if (!/^[A-Za-z0-9._-]+$/.test(spec.key)) throw new ProviderError("local", "rejected", "key has characters not allowed in a directory name");
    const dir = this.dir(spec.key);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch {
      // This key was launched before: the same launch again is that instance, not a second one.
      return { instanceId: spec.key };
    }
    const work = join(dir, "work");
    mkdirSync(work, { mode: 0o700 });
    const [program, ...args] = spec.command;
    if (program === undefined) throw new ProviderError("local", "rejected", "command is empty");
    // sh records the exit code after the command ends; the command itself is exec'd argv, never a shell string.
    const child = spawn("/bin/sh", ["-c", '"$@"; echo $? > "$GPU_JOB_EXIT_FILE.tmp" && mv "$GPU_JOB_EXIT_FILE.tmp" "$GPU_JOB_EXIT_FILE"', "sh", program, ...args], {
      cwd: work,
      detached: true,
      stdio: ["ignore", "ignore", "ignore"],
      env: { ...spec.environment, PATH: this.options.path, HOME: work, GPU_JOB_EXIT_FILE: join(dir, "exit-code") },
    });
    if (child.pid === undefined) throw new ProviderError("local", "server_error", "worker did not start");
    child.unref();
    writeFileSync(join(dir, "record.json"), JSON.stringify({ key: spec.key, pid: child.pid } satisfies LocalRecord));
    return { instanceId: spec.key };
  }

  private read(key: string): LocalRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir(key), "record.json"), "utf8")) as LocalRecord;
    } catch {
      return undefined;
    }
  }

  private stateOf(record: LocalRecord): InstanceState {
    if (record.terminated) return "terminated";
    let exit: string | undefined;
    try {
      exit = readFileSync(join(this.dir(record.key), "exit-code"), "utf8").trim();
    } catch {
      exit = undefined;
    }
    if (exit !== undefined) return exit === "0" ? "exited" : "failed";
    return alive(record.pid) ? "running" : "failed";
  }

  async status(instanceId: string): Promise<ProviderInstance | undefined> {
    const record = this.read(instanceId);
    return record ? { instanceId, key: record.key, state: this.stateOf(record) } : undefined;
  }

  async terminate(instanceId: string): Promise<void> {
    const record = this.read(instanceId);
    if (!record || record.terminated) return;
    try {
      process.kill(-record.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    writeFileSync(join(this.dir(instanceId), "record.json"), JSON.stringify({ ...record, terminated: true }));
    rmSync(join(this.dir(instanceId), "work"), { recursive: true, force: true });
  }

  async listOwned(): Promise<ProviderInstance[]> {
    const owned: ProviderInstance[] = [];
    for (const key of readdirSync(this.options.stateDir)) {
      if (!key.startsWith(KEY_PREFIX)) continue;
      const record = this.read(key);
      if (record && !record.terminated) owned.push({ instanceId: key, key, state: this.stateOf(record) });
    }
    return owned;
  }
}
