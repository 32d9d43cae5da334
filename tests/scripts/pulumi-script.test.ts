/**
 * `npm run up` / `npm run preview` (scripts/pulumi.ts) against a recording fake `pulumi`: the
 * script is copied with the stack and policy config files into a temporary checkout whose
 * node_modules/.bin/pulumi records every call (argv, backend, passphrase) and answers
 * `stack output --json` with canned outputs. No real Pulumi CLI is involved.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");

interface Call {
  argv: string[];
  backend?: string;
  passphraseFile?: string;
  passphrase?: string;
}

const OUTPUTS = {
  target: "docker",
  postgres: { host: "dev-postgres", port: 5432 },
  grafana: { url: "https://grafana.fundament.localhost" },
  usersBootstrapAdmin: "[secret]",
  databases: { users: "[secret]" },
};

// The fake CLI: records each call; `up` fails when FAKE_UP_STATUS says so.
const FAKE_PULUMI = `#!/usr/bin/env node
const fs = require("node:fs");
const argv = process.argv.slice(2);
const file = process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
const call = { argv, backend: process.env.PULUMI_BACKEND_URL, passphraseFile: file, passphrase: file && fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined };
fs.appendFileSync(process.env.FAKE_PULUMI_LOG, JSON.stringify(call) + "\\n");
if (argv[0] === "stack" && argv[1] === "output") process.stdout.write(fs.readFileSync(process.env.FAKE_OUTPUTS, "utf8"));
if (argv[0] === "up") process.exit(Number(process.env.FAKE_UP_STATUS || 0));
`;

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function checkout(): string {
  const dir = mkdtempSync(join(tmpdir(), "pulumi-script-"));
  made.push(dir);
  for (const file of ["scripts/pulumi.ts", "scripts/stack-endpoints.ts", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "policies/config/dev.json", "policies/config/prod.json"]) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    copyFileSync(join(ROOT, file), join(dir, file));
  }
  mkdirSync(join(dir, "node_modules", ".bin"), { recursive: true });
  writeFileSync(join(dir, "node_modules", ".bin", "pulumi"), FAKE_PULUMI);
  chmodSync(join(dir, "node_modules", ".bin", "pulumi"), 0o755);
  writeFileSync(join(dir, "outputs.json"), JSON.stringify(OUTPUTS));
  return dir;
}

function npmRun(dir: string, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; calls: Call[] } {
  const log = join(dir, "calls.jsonl");
  rmSync(log, { force: true });
  const base: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !name.startsWith("PULUMI_")) base[name] = value;
  const result = spawnSync(TSX, [join(dir, "scripts", "pulumi.ts"), ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...base, FAKE_PULUMI_LOG: log, FAKE_OUTPUTS: join(dir, "outputs.json"), ...env },
  });
  const calls = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Call) : [];
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
}

describe("npm run up -- dev with nothing set", () => {
  it("creates a 0600 passphrase file, uses it with the local backend, passes the stack's policy config, prints the endpoints", () => {
    const dir = checkout();
    const { status, stdout, stderr, calls } = npmRun(dir, ["up", "dev"]);
    expect(status, stderr).toBe(0);

    const passphraseFile = join(dir, ".pulumi-passphrase");
    expect(statSync(passphraseFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(passphraseFile, "utf8").trim().length).toBeGreaterThanOrEqual(40);
    expect(stdout).toContain(".pulumi-passphrase");

    expect(calls.map((call) => call.argv)).toEqual([
      ["stack", "select", "--create", "dev", "--non-interactive"],
      ["up", "--stack", "dev", "--policy-pack", join(dir, "policies"), "--policy-pack-config", join(dir, "policies", "config", "dev.json")],
      ["stack", "output", "--json", "--stack", "dev"],
    ]);
    for (const call of calls) {
      expect(call.backend).toBe(`file://${join(dir, ".pulumi-state")}`);
      expect(call.passphraseFile).toBe(passphraseFile);
    }

    expect(stdout).toContain("postgres: dev-postgres:5432");
    expect(stdout).toContain("grafana.url: https://grafana.fundament.localhost");
    expect(stdout).not.toContain("usersBootstrapAdmin");
    expect(stdout).not.toContain("[secret]");
    expect(stdout).not.toContain(readFileSync(passphraseFile, "utf8").trim());
  });

  it("reuses the same passphrase on the next run", () => {
    const dir = checkout();
    const first = npmRun(dir, ["up", "dev"]);
    const second = npmRun(dir, ["up", "dev"]);
    expect(second.status).toBe(0);
    expect(second.calls[0]?.passphrase).toBe(first.calls[0]?.passphrase);
    expect(second.stdout).toContain("using the passphrase in .pulumi-passphrase");
  });

  it("leaves a passphrase the user set alone", () => {
    const dir = checkout();
    const own = join(dir, "own-passphrase");
    writeFileSync(own, "mine\n", { mode: 0o600 });
    const { status, calls } = npmRun(dir, ["up", "dev"], { PULUMI_CONFIG_PASSPHRASE_FILE: own });
    expect(status).toBe(0);
    expect(calls.every((call) => call.passphraseFile === own)).toBe(true);
    expect(existsSync(join(dir, ".pulumi-passphrase"))).toBe(false);
  });

  it("prints no endpoints and exits non-zero when up fails", () => {
    const dir = checkout();
    const { status, stdout, calls } = npmRun(dir, ["up", "dev"], { FAKE_UP_STATUS: "3" });
    expect(status).toBe(3);
    expect(calls.map((call) => call.argv[0])).toEqual(["stack", "up"]);
    expect(stdout).not.toContain("dev-postgres");
  });

  it("refuses a passphrase file others can read", () => {
    const dir = checkout();
    writeFileSync(join(dir, ".pulumi-passphrase"), "x\n", { mode: 0o644 });
    chmodSync(join(dir, ".pulumi-passphrase"), 0o644);
    const { status, stderr, calls } = npmRun(dir, ["up", "dev"]);
    expect(status).not.toBe(0);
    expect(stderr).toContain("chmod 600");
    expect(calls).toEqual([]);
  });

  it("refuses to invent a new passphrase for a stack the local state already holds", () => {
    const dir = checkout();
    mkdirSync(join(dir, ".pulumi-state", ".pulumi", "stacks", "fundament"), { recursive: true });
    writeFileSync(join(dir, ".pulumi-state", ".pulumi", "stacks", "fundament", "dev.json"), "{}");
    const { status, stderr, calls } = npmRun(dir, ["up", "dev"]);
    expect(status).not.toBe(0);
    expect(stderr).toContain("already holds stack dev");
    expect(existsSync(join(dir, ".pulumi-passphrase"))).toBe(false);
    expect(calls).toEqual([]);
  });
});

describe("npm run preview / up -- prod", () => {
  it("preview passes the prod policy config with the pack", () => {
    const dir = checkout();
    const { status, calls } = npmRun(dir, ["preview", "prod"]);
    expect(status).toBe(0);
    expect(calls[1]?.argv).toEqual(["preview", "--stack", "prod", "--diff", "--policy-pack", join(dir, "policies"), "--policy-pack-config", join(dir, "policies", "config", "prod.json")]);
    expect(calls).toHaveLength(2);
  });

  it("gives --secrets-provider to the stack's creation, not to up, and needs no passphrase", () => {
    const dir = checkout();
    const kms = "awskms://alias/fundament-pulumi?region=eu-central-1";
    const { status, calls } = npmRun(dir, ["up", "prod", "--secrets-provider", kms, "--yes"], { PULUMI_BACKEND_URL: "s3://team-state" });
    expect(status).toBe(0);
    expect(calls[0]?.argv).toEqual(["stack", "select", "--create", "prod", "--non-interactive", "--secrets-provider", kms]);
    expect(calls[1]?.argv).toEqual(["up", "--stack", "prod", "--policy-pack", join(dir, "policies"), "--policy-pack-config", join(dir, "policies", "config", "prod.json"), "--yes"]);
    expect(calls.every((call) => call.backend === "s3://team-state" && call.passphraseFile === undefined)).toBe(true);
    expect(existsSync(join(dir, ".pulumi-passphrase"))).toBe(false);
  });

  it("on a shared backend, a passphrase stack without a passphrase is refused with what to set", () => {
    const dir = checkout();
    const { status, stderr, calls } = npmRun(dir, ["up", "prod"], { PULUMI_BACKEND_URL: "s3://team-state" });
    expect(status).not.toBe(0);
    expect(stderr).toContain("PULUMI_CONFIG_PASSPHRASE_FILE");
    expect(stderr).toContain("--secrets-provider awskms://");
    expect(calls).toEqual([]);
  });
});

describe("the repository", () => {
  it("git-ignores the passphrase file and the local state", () => {
    for (const path of [".pulumi-passphrase", ".pulumi-state/x"]) {
      expect(spawnSync("git", ["-C", ROOT, "check-ignore", "-q", path]).status, path).toBe(0);
    }
  });
});
