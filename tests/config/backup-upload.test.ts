import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderBackupUploadScript } from "../../components/database/backups/backup-upload-script";

const root = mkdtempSync(join(tmpdir(), "fundament-upload-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const shell = existsSync("/bin/dash") ? "/bin/dash" : "/bin/sh";

interface Run {
  status: number | null;
  stderr: string;
  calls: { argv: string[]; host: string }[];
}

/** Runs the rendered script under dash with an `mc` on PATH that records its argv and MC_HOST. */
function run(access: string, secret: string, withBackups = true): Run {
  const dir = mkdtempSync(join(root, "case-"));
  const source = join(dir, "volume", "backups");
  if (withBackups) {
    mkdirSync(join(source, "20261126T031700Z"), { recursive: true });
    writeFileSync(join(source, "20261126T031700Z", "users.dump"), "dump");
    mkdirSync(join(source, ".partial-20261126T040000Z-12"), { recursive: true });
  }
  writeFileSync(join(dir, "access"), access);
  writeFileSync(join(dir, "secret"), secret);
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const log = join(dir, "calls");
  // Records one JSON line per call: argv and the MC_HOST_backups it was given.
  writeFileSync(join(bin, "mc"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${log}\nprintf 'HOST %s\\n' "$MC_HOST_backups" >> ${log}\n`);
  chmodSync(join(bin, "mc"), 0o755);
  const script = join(dir, "upload.sh");
  writeFileSync(script, renderBackupUploadScript({ sourceDir: source, accessKeyFile: join(dir, "access"), secretKeyFile: join(dir, "secret"), prefix: "postgres" }));
  const result = spawnSync(shell, [script], {
    env: { PATH: `${bin}:/usr/bin:/bin`, S3_ENDPOINT: "https://s3.eu-central-1.amazonaws.com", S3_BUCKET: "fundament-prod-backups" },
    encoding: "utf8",
  });
  const lines = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [];
  const calls: Run["calls"] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) calls.push({ argv: lines[i].split(" "), host: lines[i + 1].replace(/^HOST /, "") });
  return { status: result.status, stderr: result.stderr, calls };
}

describe("backup upload script", () => {
  it("passes a syntax check under dash", () => {
    const file = join(root, "syntax.sh");
    writeFileSync(file, renderBackupUploadScript({ sourceDir: "/backup-volume/backups", accessKeyFile: "/run/a", secretKeyFile: "/run/s", prefix: "postgres" }));
    expect(spawnSync(shell, ["-n", file]).status).toBe(0);
  });

  it("mirrors finished backups, skipping unfinished runs, with credentials only in MC_HOST", () => {
    // An AWS-style secret key: / and + must survive the trip through a URL.
    const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const result = run("AKIAIOSFODNN7EXAMPLE", secret);
    expect(result.status, result.stderr).toBe(0);
    expect(result.calls).toHaveLength(1);
    const [call] = result.calls;
    expect(call.argv.slice(0, 2)).toEqual(["mirror", "--overwrite"]);
    expect(call.argv).toContain(".partial-*");
    expect(call.argv.at(-1)).toBe("backups/fundament-prod-backups/postgres");
    expect(call.argv.join(" ")).not.toContain(secret);
    const url = new URL(call.host);
    expect(url.origin).toBe("https://s3.eu-central-1.amazonaws.com");
    expect(decodeURIComponent(url.username)).toBe("AKIAIOSFODNN7EXAMPLE");
    expect(decodeURIComponent(url.password)).toBe(secret);
  });

  it("reads key files without a trailing newline", () => {
    const result = run("minio-writer", "abcdEFGH1234");
    expect(result.status, result.stderr).toBe(0);
    expect(decodeURIComponent(new URL(result.calls[0].host).password)).toBe("abcdEFGH1234");
  });

  it("does nothing, successfully, before the first backup exists", () => {
    const result = run("a", "b", false);
    expect(result.status).toBe(0);
    expect(result.calls).toEqual([]);
  });

  it("refuses a credential it cannot encode rather than sending a wrong one", () => {
    const result = run("key", "has space");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("unexpected character in a credential");
    expect(result.calls).toEqual([]);
  });
});
