// Every TLS client in the platform verifies its server (issue 10): no source file may turn Node's
// certificate check off, whether in code or through the environment.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const SKIPPED = new Set(["node_modules", "dist", ".git", "coverage"]);
const SOURCE = /\.(ts|js|mjs|cjs|json|ya?ml|sh)$/;
// Spelled in pieces so this file does not match itself.
const UNVERIFIED = [
  new RegExp(["reject", "Unauthorized", "\\s*[:=]\\s*false"].join("")),
  new RegExp(["NODE_TLS_", "REJECT_UNAUTHORIZED"].join("")),
  // MongoDB drivers, mongosh and the Database Tools: a connection option or a flag that skips the chain or host name check.
  new RegExp(["(tls", "Insecure|tls", "AllowInvalid(Certificates|Hostnames)|ssl", "AllowInvalid(Certificates|Hostnames))\\s*[=:]\\s*[\"']?true"].join(""), "i"),
  new RegExp(["--(tls", "Insecure|tls", "AllowInvalid|ssl", "AllowInvalid)"].join(""), "i"),
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return SOURCE.test(entry.name) ? [path] : [];
  });
}

/** The places in `files` that switch verification off, as "path:line". */
export function unverifiedTls(files: { path: string; text: string }[]): string[] {
  return files.flatMap(({ path, text }) =>
    text.split("\n").flatMap((line, index) => (UNVERIFIED.some((pattern) => pattern.test(line)) ? [`${path}:${index + 1}`] : [])),
  );
}

describe("TLS verification is never switched off", () => {
  it("finds the switch when a file has it (the check can fail)", () => {
    const off = ["reject", "Unauthorized: false"].join("");
    expect(unverifiedTls([{ path: "a.ts", text: `const x = 1;\nconst tls = { ${off} };\n` }])).toEqual(["a.ts:2"]);
    expect(unverifiedTls([{ path: "b.sh", text: `export ${["NODE_TLS_", "REJECT_UNAUTHORIZED"].join("")}=0\n` }])).toEqual(["b.sh:1"]);
    expect(unverifiedTls([{ path: "c.ts", text: `const uri = "mongodb://mongo:27017/?tls=true&${["tlsAllow", "InvalidHostnames"].join("")}=true";\n` }])).toEqual(["c.ts:1"]);
    expect(unverifiedTls([{ path: "d.sh", text: `\nmongodump ${["--ssl", "AllowInvalidCertificates"].join("")} --archive=x\n` }])).toEqual(["d.sh:2"]);
    expect(unverifiedTls([{ path: "e.ts", text: `mongosh uri --tls ${["--tls", "Insecure"].join("")}\n` }])).toEqual(["e.ts:1"]);
  });

  it("no source, script, test or configuration file in the repository has it", () => {
    const files = sourceFiles(ROOT).map((path) => ({ path: relative(ROOT, path), text: readFileSync(path, "utf8") }));
    expect(files.length).toBeGreaterThan(100);
    expect(unverifiedTls(files)).toEqual([]);
  });
});
