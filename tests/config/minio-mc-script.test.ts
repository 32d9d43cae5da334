/*
 * The bucket job's script, checked three ways without MinIO or mc (neither has a package here):
 * `sh -n` (dash, the sh of the Debian images; bash --posix, the sh of the ubi-micro mc image) and
 * shellcheck where it is installed; a table of the mc commands it issues; and runs of the real
 * script under dash with a *recording* `mc` on PATH, which exercises the script's own logic
 * (secret files, MC_HOST, idempotent branches, failures) but says nothing about mc itself. The
 * mc command syntax was checked against mc's source (cmd/ilm-rule-main.go, ready.go,
 * admin-policy-*.go, admin-user-add.go); running it against a server could not be done here.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BucketSpec, defaultBuckets } from "../../components/storage/buckets";
import { BucketPlan, planBuckets } from "../../components/storage/lifecycle-plan";
import { BucketSetupFiles, renderBucketSetupScript } from "../../components/storage/mc-script";
import { BUCKET_SETUP_FILES } from "../../components/storage/minio-workload";

const work = mkdtempSync(join(tmpdir(), "fundament-mc-script-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const BUCKETS: BucketSpec[] = [...defaultBuckets(30), { name: "scratch", versioning: false }];

function script(plans: BucketPlan[] = planBuckets(BUCKETS), files: BucketSetupFiles = BUCKET_SETUP_FILES, readyAttempts = 60): string {
  return renderBucketSetupScript({ plans, files, writerPolicyName: "backups-writer", readyAttempts });
}

function writeScript(text: string, name: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

describe("syntax", () => {
  const path = writeScript(script(), "syntax.sh");
  it.each([
    ["dash", ["-n", path]],
    ["bash", ["--posix", "-n", path]],
  ])("%s -n accepts it", (shell, args) => {
    const result = spawnSync(shell, args, { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("dash -n rejects a broken script, so the check above can fail", () => {
    const broken = writeScript(script().replace("  esac\nfi", "  esac\n"), "broken.sh");
    expect(spawnSync("dash", ["-n", broken]).status).not.toBe(0);
  });

  const shellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
  it.skipIf(!shellcheck)("shellcheck finds nothing (POSIX sh)", () => {
    const result = spawnSync("shellcheck", ["-s", "sh", path], { encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });
});

describe("commands, by bucket kind", () => {
  const text = script();
  const table: { bucket: string; lines: string[] }[] = [
    {
      bucket: "backups (versioned, expiring)",
      lines: [
        'mc mb --ignore-existing "$alias/backups"',
        'mc version enable "$alias/backups"',
        'mc ilm rule import "$alias/backups" < /etc/fundament/storage/lifecycle-backups.json',
      ],
    },
    {
      bucket: "media (versioned, noncurrent expiry)",
      lines: [
        'mc mb --ignore-existing "$alias/media"',
        'mc version enable "$alias/media"',
        'mc ilm rule import "$alias/media" < /etc/fundament/storage/lifecycle-media.json',
      ],
    },
    {
      bucket: "scratch (unversioned, no lifecycle)",
      lines: [
        'mc mb --ignore-existing "$alias/scratch"',
        `case "$(mc version info --json "$alias/scratch")" in *'"Enabled"'*) mc version suspend "$alias/scratch" ;; esac`,
        'if mc ilm rule export "$alias/scratch" >/dev/null 2>&1; then mc ilm rule rm --all --force "$alias/scratch"; fi',
      ],
    },
  ];
  it.each(table)("$bucket", ({ lines }) => {
    const at = lines.map((line) => text.split("\n").indexOf(line));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it("gives the backup writer the policy through a user, never a root service account", () => {
    expect(text).toContain("mc admin policy create \"$alias\" backups-writer /etc/fundament/storage/backup-writer-policy.json");
    expect(text).toContain('mc admin user add "$alias" "$writer_access_key" "$writer_secret_key"');
    expect(text).toContain('mc admin policy attach "$alias" backups-writer --user "$writer_access_key"');
    expect(text).not.toMatch(/svcacct|accesskey create/);
  });

  it("never passes the root credentials as arguments", () => {
    const argumentLines = text.split("\n").filter((line) => /^\s*(if !? ?)?.*\bmc /.test(line));
    expect(argumentLines.filter((line) => /root_user|root_password/.test(line))).toEqual([]);
  });

  it("refuses to interpolate a value that is not a plain word", () => {
    expect(() => renderBucketSetupScript({ plans: planBuckets([{ name: "a;rm -rf", versioning: true }]), files: BUCKET_SETUP_FILES, writerPolicyName: "p", readyAttempts: 1 })).toThrow(
      /refusing to interpolate/,
    );
  });
});

/** Logs argv and the MC_HOST it saw; answers as the scenario's environment says (its exit status is the case's). */
const RECORDING_MC = `#!/bin/sh
printf '%s\\n' "$*" >> "$MC_LOG"
printf '%s\\n' "\${MC_HOST_fundament:-unset}" >> "$MC_HOST_LOG"
case "$*" in
  "ready "*) [ "\${MC_READY:-yes}" = yes ] ;;
  "version info --json "*) printf '{"status":"success","versioning":{"status":"%s"}}\\n' "\${MC_VERSIONING:-}" ;;
  "ilm rule export "*) [ "\${MC_HAS_LIFECYCLE:-no}" = yes ] ;;
  "admin policy attach "*)
    case "\${MC_ATTACH:-ok}" in
      already) echo "mc: <ERROR> Unable to make user/group policy association. The specified policy change is already in effect." >&2; exit 1 ;;
      denied) echo "mc: <ERROR> Unable to make user/group policy association. Access Denied." >&2; exit 1 ;;
    esac ;;
esac
`;

interface Run {
  dir: string;
  status: number | null;
  stderr: string;
  calls: string[];
  hosts: string[];
}

function runScript(env: Record<string, string>, options: { readyAttempts?: number; emptySecret?: boolean; endpoint?: string | null } = {}): Run {
  const dir = mkdtempSync(join(work, "run-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "mc"), RECORDING_MC);
  chmodSync(join(bin, "mc"), 0o755);
  const secrets: Record<string, string> = {
    "root-user": "ROOTUSER0123456789AB",
    "root-password": "rootPasswordOnlyInMcHost0123456789abcdef",
    "writer-access-key": "WRITER0123456789ABCD",
    "writer-secret-key": options.emptySecret ? "" : "writerSecret0123456789abcdef0123456789ab",
  };
  for (const [name, value] of Object.entries(secrets)) writeFileSync(join(dir, name), value); // no trailing newline, like the uploads
  const files: BucketSetupFiles = {
    rootUser: join(dir, "root-user"),
    rootPassword: join(dir, "root-password"),
    writerAccessKey: join(dir, "writer-access-key"),
    writerSecretKey: join(dir, "writer-secret-key"),
    writerPolicy: join(dir, "policy.json"),
    lifecycle: (bucket) => join(dir, `lifecycle-${bucket}.json`),
  };
  for (const bucket of ["backups", "media"]) writeFileSync(files.lifecycle(bucket), "{}");
  const path = writeScript(script(planBuckets(BUCKETS), files, options.readyAttempts ?? 3), `run-${Math.random().toString(36).slice(2)}.sh`);
  const log = join(dir, "calls.log");
  const hostLog = join(dir, "hosts.log");
  writeFileSync(log, "");
  writeFileSync(hostLog, "");
  const endpoint = options.endpoint === undefined ? { MINIO_ENDPOINT: "storage:9000" } : options.endpoint === null ? {} : { MINIO_ENDPOINT: options.endpoint };
  const result = spawnSync("dash", [path], {
    encoding: "utf8",
    env: { PATH: `${bin}:/usr/bin:/bin`, MC_LOG: log, MC_HOST_LOG: hostLog, ...endpoint, ...env },
    timeout: 30_000,
  });
  const lines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);
  return { dir, status: result.status, stderr: result.stderr, calls: lines(log), hosts: lines(hostLog) };
}

describe("running the script with a recording mc", () => {
  it("on a fresh server: creates, versions and lifecycles every bucket, then the writer, in order", () => {
    const run = runScript({});
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.calls).toEqual([
      "ready fundament",
      "mb --ignore-existing fundament/backups",
      "version enable fundament/backups",
      "ilm rule import fundament/backups",
      "mb --ignore-existing fundament/media",
      "version enable fundament/media",
      "ilm rule import fundament/media",
      "mb --ignore-existing fundament/scratch",
      "version info --json fundament/scratch",
      "ilm rule export fundament/scratch",
      `admin policy create fundament backups-writer ${run.dir}/policy.json`,
      "admin user add fundament WRITER0123456789ABCD writerSecret0123456789abcdef0123456789ab",
      "admin policy attach fundament backups-writer --user WRITER0123456789ABCD",
    ]);
  });

  it("hands mc the root credentials through MC_HOST only, never as an argument", () => {
    const run = runScript({});
    expect(new Set(run.hosts)).toEqual(new Set(["http://ROOTUSER0123456789AB:rootPasswordOnlyInMcHost0123456789abcdef@storage:9000"]));
    expect(run.calls.join("\n")).not.toMatch(/ROOTUSER|rootPassword/);
  });

  it("on a second run: accepts the policy already attached, suspends versioning switched off, drops a lifecycle no longer wanted", () => {
    const run = runScript({ MC_ATTACH: "already", MC_VERSIONING: "Enabled", MC_HAS_LIFECYCLE: "yes" });
    expect(run.status).toBe(0);
    expect(run.calls).toContain("version suspend fundament/scratch");
    expect(run.calls).toContain("ilm rule rm --all --force fundament/scratch");
  });

  it("fails the job when attaching the policy fails for another reason", () => {
    const run = runScript({ MC_ATTACH: "denied" });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("Access Denied");
  });

  it("gives up after the configured attempts when MinIO never becomes ready", () => {
    const run = runScript({ MC_READY: "no" }, { readyAttempts: 1 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("minio at storage:9000 is not ready after 1 attempts");
    expect(run.calls).toEqual(["ready fundament"]);
  });

  it("stops before any mc call without MINIO_ENDPOINT", () => {
    const run = runScript({}, { endpoint: null });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("MINIO_ENDPOINT must name the MinIO API as host:port");
    expect(run.calls).toEqual([]);
  });

  it("stops at an empty secret file instead of creating a user without a secret", () => {
    const run = runScript({}, { emptySecret: true });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/writer-secret-key is empty/);
    expect(run.calls.some((call) => call.startsWith("admin user add"))).toBe(false);
  });
});
