/**
 * scripts/install-test-prerequisites.sh, which `npm test` runs first, against a fake dpkg,
 * apt-get and id on PATH: what it installs, how often it asks apt, and what a non-root user is
 * told. The fakes keep an "installed" list in a file, so a second run sees what the first did.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const SCRIPT = join(ROOT, "scripts", "install-test-prerequisites.sh");

function listedPackages(): string[] {
  const text = readFileSync(SCRIPT, "utf8");
  const list = text.slice(text.indexOf("<<'EOF'"), text.indexOf("\nEOF\n")).split("\n").slice(1);
  return list.map((line) => line.replace(/#.*/, "").trim()).filter((name) => name.length > 0);
}

interface FakeSystem {
  dir: string;
  run(uid: number): { status: number | null; stdout: string; stderr: string };
  aptCalls(): string[];
}

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function fakeSystem(installed: string[]): FakeSystem {
  const dir = mkdtempSync(join(tmpdir(), "prereq-"));
  made.push(dir);
  const state = join(dir, "installed");
  const calls = join(dir, "apt-calls");
  const policyRc = join(dir, "policy-rc.d");
  writeFileSync(state, installed.map((name) => `${name}\n`).join(""));
  writeFileSync(calls, "");
  const tool = (name: string, body: string): void => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  // dpkg-query -W -f=... <pkg>: "installed" when the state file lists it.
  tool("dpkg-query", `for last; do :; done\ngrep -qx "$last" "${state}" && printf installed && exit 0\nexit 1`);
  // apt-get records its arguments and what a maintainer script's invoke-rc.d would be told.
  tool("apt-get", `echo "$*" >> "${calls}"\nsh "${policyRc}"; echo "policy-rc.d exit $?" >> "${calls}"\ncase " $* " in *" install "*) for a; do case "$a" in -*|install) ;; *) echo "$a" >> "${state}";; esac; done;; esac`);
  return {
    dir,
    run(uid) {
      tool("id", `echo ${uid}`);
      const result = spawnSync("bash", [SCRIPT], {
        encoding: "utf8",
        env: { PATH: `${dir}:/usr/bin:/bin`, TMPDIR: dir, FUNDAMENT_POLICY_RC_D: policyRc, FUNDAMENT_TEST_ROOTS_BUILD: "skip" },
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    aptCalls: () => readFileSync(calls, "utf8").split("\n").filter((line) => line.length > 0),
  };
}

describe("install-test-prerequisites.sh", () => {
  it("lists debootstrap, which builds the roots the servers run from", () => {
    expect(listedPackages()).toEqual(expect.arrayContaining(["debootstrap"]));
  });

  it("as root, updates once and installs only the missing packages; a second run does nothing", () => {
    const all = listedPackages();
    const system = fakeSystem(all.filter((name) => name !== "debootstrap" && name !== "shellcheck"));
    const first = system.run(0);
    expect(first.status, first.stderr).toBe(0);
    const calls = system.aptCalls();
    expect(calls.filter((call) => call.includes("update"))).toHaveLength(1);
    // No packaged server may start during the install: invoke-rc.d is refused (101) throughout.
    expect(calls.filter((call) => call.startsWith("policy-rc.d"))).toEqual(["policy-rc.d exit 101", "policy-rc.d exit 101"]);
    expect(existsSync(join(system.dir, "policy-rc.d")), "the temporary policy-rc.d is removed afterwards").toBe(false);
    const installs = calls.filter((call) => / install /.test(` ${call} `) && !call.startsWith("policy-rc.d"));
    expect(installs).toHaveLength(1);
    const installed = (installs[0] ?? "").split(" ").filter((word) => !word.startsWith("-") && word !== "install" && !word.includes("="));
    expect(installed.sort()).toEqual(["debootstrap", "shellcheck"]);

    const second = system.run(0);
    expect(second.status).toBe(0);
    expect(system.aptCalls()).toEqual(calls);
  });

  it("not root: names what is missing and the command that installs it, exits non-zero, installs nothing", () => {
    const system = fakeSystem(listedPackages().filter((name) => name !== "debootstrap"));
    const result = system.run(1000);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("missing Debian packages: debootstrap");
    expect(result.stderr).toMatch(/apt-get install -y --no-install-recommends debootstrap$/m);
    expect(system.aptCalls()).toEqual([]);
  });
});
