// The MongoDB backup job's rendered script, run under dash with a recording `mongodump` on PATH
// (there is no mongod here; this is how the bucket upload job is tested too). What the real tools
// do with these arguments is taken from their documentation, cited in mongo-backup-script.ts.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MONGO_BACKUP_USER, renderMongoBackupScript, renderMongodumpConfig } from "../../components/database/backups/mongo-backup-script";

const root = mkdtempSync(join(tmpdir(), "fundament-mongo-backup-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const shell = existsSync("/bin/dash") ? "/bin/dash" : "/bin/sh";
const PASSWORD = "Zq8/+Backup%Password0123456789";

interface Case {
  dir: string;
  backupDir: string;
  script: string;
  run(mode?: "ok" | "fail" | "truncated"): { status: number | null; stderr: string; argv: string[] };
}

/**
 * A mongodump that records its argv, then writes a gzip archive where --archive= says (or fails as
 * told). It stands in for a server that requires TLS: without --ssl, or without a readable CA
 * file, it fails the way mongodump does against requireTLS (the server closes a plain connection).
 */
function setUp(retention = 2): Case {
  const dir = mkdtempSync(join(root, "case-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const log = join(dir, "argv");
  writeFileSync(
    join(bin, "mongodump"),
    `#!/bin/sh
printf '%s\\n' "$@" > '${log}'
ssl=no; ca=
for arg in "$@"; do case $arg in --archive=*) out=\${arg#--archive=} ;; --ssl) ssl=yes ;; --sslCAFile=*) ca=\${arg#--sslCAFile=} ;; esac; done
[ "$ssl" = yes ] || { echo "Failed: can't create session: connection(mongo:27017[-1]) socket was unexpectedly closed: EOF" >&2; exit 1; }
grep -q 'BEGIN CERTIFICATE' "$ca" 2>/dev/null || { echo "Failed: error configuring client, can't load CA file: open $ca: no such file or directory" >&2; exit 1; }
case "$MODE" in
  fail) echo "Failed: can't create session: connection() error occurred during connection handshake: auth error" >&2; exit 1 ;;
  truncated) printf 'partial archive' | gzip -c | head -c 12 > "$out" ;;
  *) printf 'archive of every database and the oplog' | gzip -c > "$out" ;;
esac
`,
  );
  chmodSync(join(bin, "mongodump"), 0o755);
  const caFile = join(dir, "ca.crt");
  writeFileSync(caFile, "-----BEGIN CERTIFICATE-----\nplatform CA\n-----END CERTIFICATE-----\n");
  const configFile = join(dir, "mongodump.yaml");
  writeFileSync(configFile, renderMongodumpConfig({ host: "mongo", port: 27017, password: PASSWORD }), { mode: 0o400 });
  const backupDir = join(dir, "volume", "backups");
  const script = join(dir, "mongo-backup.sh");
  writeFileSync(script, renderMongoBackupScript({ backupDir, retention, configFile, caFile }));
  return {
    dir,
    backupDir,
    script,
    run(mode = "ok") {
      rmSync(log, { force: true });
      const result = spawnSync(shell, [script], { env: { PATH: `${bin}:/usr/bin:/bin`, MODE: mode }, encoding: "utf8" });
      const argv = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [];
      return { status: result.status, stderr: result.stderr, argv };
    },
  };
}

const complete = (backupDir: string) => (existsSync(backupDir) ? readdirSync(backupDir).filter((n) => /^\d{8}T\d{6}Z/.test(n)).sort() : []);

describe("mongo backup script", () => {
  it("runs mongodump --archive --gzip --oplog over verified TLS, the credential only in its --config file, and keeps the archive once it checks", () => {
    const c = setUp();
    const result = c.run();
    expect(result.status, result.stderr).toBe(0);
    const [stamp] = complete(c.backupDir);
    const [config, ssl, caFile, archive, ...flags] = result.argv;
    expect(config).toBe(`--config=${join(c.dir, "mongodump.yaml")}`);
    // The Database Tools' TLS switches (they have no --tls flag); nothing that relaxes verification.
    expect([ssl, caFile]).toEqual(["--ssl", `--sslCAFile=${join(c.dir, "ca.crt")}`]);
    expect(result.argv.filter((arg) => /insecure|allowinvalid/i.test(arg))).toEqual([]);
    // Written into the run's work directory, which becomes the timestamped backup once it checks.
    expect(archive.startsWith(`--archive=${c.backupDir}/.partial-${stamp}-`) && archive.endsWith("/mongo.archive.gz")).toBe(true);
    expect(flags).toEqual(["--gzip", "--oplog"]);
    expect(result.argv.join(" ")).not.toContain(PASSWORD);
    expect(result.argv.join(" ")).not.toContain(encodeURIComponent(PASSWORD));
    expect(readdirSync(join(c.backupDir, stamp)).sort()).toEqual(["mongo.archive.gz", "mongodump.log"]);
    expect(spawnSync("gzip", ["-t", join(c.backupDir, stamp, "mongo.archive.gz")]).status).toBe(0);
    expect(result.stderr).toMatch(/mongo-backup: dumped every database with its oplog, \d+ bytes, to /);
  });

  it("the --config file carries the backup user's URI: admin as auth source, the one member directly, the password URL-encoded", () => {
    const { uri } = parse(renderMongodumpConfig({ host: "mongo", port: 27017, password: PASSWORD })) as { uri: string };
    const url = new URL(uri);
    expect(url.protocol).toBe("mongodb:");
    expect(url.host).toBe("mongo:27017");
    expect(decodeURIComponent(url.username)).toBe(MONGO_BACKUP_USER);
    expect(decodeURIComponent(url.password)).toBe(PASSWORD);
    // TLS is switched on by the command line (--ssl --sslCAFile); nothing in the URI may turn it off.
    expect(Object.fromEntries(url.searchParams)).toEqual({ authSource: "admin", directConnection: "true" });
  });

  it("against a server that requires TLS, a script without the TLS switches would fail (the stand-in is strict)", () => {
    const c = setUp();
    writeFileSync(c.script, readFileSync(c.script, "utf8").replace(/ --ssl --sslCAFile='[^']*'/, ""));
    const result = c.run();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("socket was unexpectedly closed");
    expect(complete(c.backupDir)).toEqual([]);
  });

  it("a failed mongodump fails the run with mongodump's own message and leaves no backup behind", () => {
    const c = setUp();
    const result = c.run("fail");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("auth error");
    expect(result.stderr).toMatch(/mongo-backup: FAILED: mongodump/);
    expect(complete(c.backupDir)).toEqual([]);
    expect(readdirSync(c.backupDir).filter((n) => n.startsWith(".partial"))).toEqual([]);
  });

  it("an archive that is not a complete gzip stream does not count as a backup", () => {
    const c = setUp();
    const result = c.run("truncated");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/FAILED: mongo\.archive\.gz is not a complete gzip stream/);
    expect(complete(c.backupDir)).toEqual([]);
  });

  it("keeps only the newest `retention` runs", () => {
    const c = setUp(2);
    for (let i = 0; i < 3; i++) expect(c.run().status).toBe(0);
    expect(complete(c.backupDir)).toHaveLength(2);
  });

  it("names the field and the reason for bad input", () => {
    expect(() => renderMongoBackupScript({ backupDir: "/data/db/backups", retention: 0, configFile: "relative.yaml", caFile: "/etc/ca.crt; rm -rf /" })).toThrow(
      'retention: must be an integer from 1 to 1000 (got 0)\nconfigFile: must be an absolute plain path (got "relative.yaml")\ncaFile: must be an absolute plain path (got "/etc/ca.crt; rm -rf /")',
    );
  });

  it.skipIf(spawnSync("shellcheck", ["--version"]).status !== 0)("shellcheck finds nothing (POSIX sh)", () => {
    const c = setUp();
    const result = spawnSync("shellcheck", ["-s", "sh", c.script], { encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });
});
