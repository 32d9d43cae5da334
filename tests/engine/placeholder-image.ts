import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineApi } from "./engine-api";

/**
 * The stand-in for every image the dev stack uses: nothing can be pulled here, so one small
 * root filesystem holding Debian's static busybox (busybox-static) is imported into the private
 * engine and tagged with each reference. Every busybox applet is linked (sh, nc, ip, stat,
 * sleep, ...), and so is every extra program name a probe names, so a healthcheck finds its
 * program (busybox answers for it; the real server is not there to answer).
 */
const BUSYBOX = "/bin/busybox";

export async function importPlaceholder(api: EngineApi, extraPrograms: string[]): Promise<string> {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (scripts/install-test-prerequisites.sh does)`);
  const staging = mkdtempSync(join(tmpdir(), "fundament-placeholder-"));
  try {
    const root = join(staging, "root");
    for (const dir of ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "tmp", "run", "var/lib", "proc", "sys", "dev", "root"]) mkdirSync(join(root, dir), { recursive: true });
    copyFileSync(BUSYBOX, join(root, "bin/busybox"));
    const applets = execFileSync(BUSYBOX, ["--list"], { encoding: "utf8" }).split("\n").filter((a) => a && a !== "busybox");
    const linked = new Set<string>();
    for (const name of [...applets, ...extraPrograms]) {
      if (name.includes("/") || linked.has(name)) continue;
      symlinkSync("busybox", join(root, "bin", name));
      linked.add(name);
    }
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
    writeFileSync(join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
    execFileSync("chmod", ["1777", join(root, "tmp")]);
    const archive = join(staging, "root.tar");
    execFileSync("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", root, "-cf", archive, "."]);
    const result = await api.call<string>("POST", "/images/create", {
      query: { fromSrc: "-", repo: "fundament-placeholder", tag: "busybox" },
      body: readFileSync(archive),
      contentType: "application/x-tar",
      timeoutMs: 120_000,
    });
    if (/"error"/.test(String(result))) throw new Error(`docker import failed: ${String(result)}`);
    const image = await api.call<{ Id: string }>("GET", "/images/fundament-placeholder:busybox/json");
    return image.Id;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** repo and tag of a reference (registry host ports kept in repo); references by digest cannot be tagged. */
export function splitReference(reference: string): { repo: string; tag: string } {
  if (reference.includes("@")) throw new Error(`${reference}: a digest reference cannot be given to a local image`);
  const slash = reference.lastIndexOf("/");
  const colon = reference.lastIndexOf(":");
  return colon > slash ? { repo: reference.slice(0, colon), tag: reference.slice(colon + 1) } : { repo: reference, tag: "latest" };
}

export async function tagPlaceholder(api: EngineApi, imageId: string, reference: string): Promise<void> {
  await api.call("POST", `/images/${imageId}/tag`, { query: splitReference(reference) });
}
