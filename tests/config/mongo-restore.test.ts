// scripts/mongo-restore.sh under dash, with a recording `mongorestore` on PATH that stands in for a
// server requiring TLS (no mongod runs here). What mongorestore itself does with these arguments
// is taken from the Database Tools' source and documentation (mongo-backup-script.ts cites them).
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = join(__dirname, "../../scripts/mongo-restore.sh");
const root = mkdtempSync(join(tmpdir(), "fundament-mongo-restore-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const shell = existsSync("/bin/dash") ? "/bin/dash" : "/bin/sh";
const URI = 'uri: "mongodb://root:Secret0123456789@mongo:27017/?authSource=admin&directConnection=true"\n';

interface Case {
  archive: string;
  config: string;
  ca: string;
  run(...args: string[]): { status: number | null; stderr: string; argv: string[] };
}

function setUp(): Case {
  const dir = mkdtempSync(join(root, "case-"));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const log = join(dir, "argv");
  // Fails as mongorestore does against requireTLS when it would connect in plain text or cannot read its CA.
  writeFileSync(
    join(bin, "mongorestore"),
    `#!/bin/sh
printf '%s\\n' "$@" > '${log}'
ssl=no; ca=
for arg in "$@"; do case $arg in --ssl) ssl=yes ;; --sslCAFile=*) ca=\${arg#--sslCAFile=} ;; esac; done
[ "$ssl" = yes ] || { echo "Failed: socket was unexpectedly closed: EOF" >&2; exit 1; }
grep -q 'BEGIN CERTIFICATE' "$ca" 2>/dev/null || { echo "Failed: can't load CA file" >&2; exit 1; }
echo "0 document(s) restored successfully. 0 document(s) failed to restore." >&2
`,
  );
  chmodSync(join(bin, "mongorestore"), 0o755);
  const archive = join(dir, "mongo.archive.gz");
  writeFileSync(archive, spawnSync("gzip", ["-c"], { input: "archive" }).stdout);
  const config = join(dir, "mongorestore.yaml");
  writeFileSync(config, URI, { mode: 0o400 });
  const ca = join(dir, "ca.crt");
  writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nplatform CA\n-----END CERTIFICATE-----\n");
  return {
    archive,
    config,
    ca,
    run(...args: string[]) {
      rmSync(log, { force: true });
      const result = spawnSync(shell, [SCRIPT, ...args], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: "utf8" });
      return { status: result.status, stderr: result.stderr, argv: existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [] };
    },
  };
}

describe("scripts/mongo-restore.sh", () => {
  it("restores with mongorestore over verified TLS: --ssl and the CA given, the credential only in --config", () => {
    const c = setUp();
    const result = c.run("--yes", c.archive, c.config, c.ca);
    expect(result.status, result.stderr).toBe(0);
    expect(result.argv).toEqual([`--config=${c.config}`, "--ssl", `--sslCAFile=${c.ca}`, `--archive=${c.archive}`, "--gzip", "--oplogReplay", "--drop"]);
    expect(result.argv.join(" ")).not.toContain("Secret0123456789");
    expect(result.stderr).toContain(`mongo-restore: restored ${c.archive}`);
  });

  it("without --yes: checks its inputs, says what it would do, exits 2, runs nothing", () => {
    const c = setUp();
    const result = c.run(c.archive, c.config, c.ca);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("would restore");
    expect(result.argv).toEqual([]);
  });

  // Spelled in pieces: tests/unit/no-unverified-tls.test.ts refuses these options in any file.
  it.each([
    ["verification off", `uri: "mongodb://root:x@mongo:27017/?${["tls", "Insecure=true"].join("")}"\n`, /turns TLS or its verification off/],
    ["host names not checked", `uri: "mongodb://root:x@mongo:27017/?${["tlsAllow", "InvalidHostnames=true"].join("")}"\n`, /turns TLS or its verification off/],
    ["TLS off", 'uri: "mongodb://root:x@mongo:27017/?tls=false"\n', /turns TLS or its verification off/],
    ["no uri", "password: x\n", /has no uri: line/],
  ])("refuses a config with %s, and runs nothing", (_case, content, message) => {
    const c = setUp();
    rmSync(c.config);
    writeFileSync(c.config, content);
    const result = c.run("--yes", c.archive, c.config, c.ca);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.argv).toEqual([]);
  });

  it("refuses an archive that is not a complete gzip stream and a CA file that holds no certificate", () => {
    const c = setUp();
    writeFileSync(c.archive, readFileSync(c.archive).subarray(0, 8));
    expect(c.run("--yes", c.archive, c.config, c.ca).stderr).toMatch(/not a complete gzip stream; nothing was changed/);
    const d = setUp();
    writeFileSync(d.ca, "not a certificate\n");
    const result = d.run("--yes", d.archive, d.config, d.ca);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/holds no PEM certificate/);
    expect(result.argv).toEqual([]);
  });

  it("prints its usage for wrong arguments", () => {
    const result = setUp().run("--yes", "only-one");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^Usage:\n {2}mongo-restore\.sh \[--yes\] <mongo\.archive\.gz> <mongorestore\.yaml> <ca\.crt>/);
  });

  it.skipIf(spawnSync("shellcheck", ["--version"]).status !== 0)("shellcheck finds nothing (POSIX sh)", () => {
    const result = spawnSync("shellcheck", ["-s", "sh", SCRIPT], { encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });
});
