import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join, relative, sep } from "node:path";

/**
 * A digest of what `docker build` would send for a Dockerfile: the Dockerfile itself and every
 * file of the context that its ignore-file lets through (`<Dockerfile>.dockerignore` first, then
 * `<context>/.dockerignore`, as BuildKit and the Docker provider choose). A change to any file the
 * image is built from changes it; a change to anything else (tests, node_modules, state) does not.
 * ECR repositories are IMMUTABLE, so the image tag is derived from it: a rebuilt image gets a new tag.
 */
export function buildContextDigest(context: string, dockerfile: string): string {
  const hash = createHash("sha256");
  hash.update("Dockerfile\0").update(readFileSync(dockerfile)).update("\0");
  for (const file of buildContextFiles(context, dockerfile)) {
    const path = join(context, file);
    const stat = lstatSync(path);
    const content = stat.isSymbolicLink() ? Buffer.from(readlinkSync(path)) : readFileSync(path);
    // The mode's executable bits reach the image, so they count too.
    hash.update(`${file}\0${(stat.mode & 0o111) !== 0 ? "x" : "-"}\0`).update(content).update("\0");
  }
  return hash.digest("hex");
}

/** The files of the context that `docker build` would send, relative, sorted. */
export function buildContextFiles(context: string, dockerfile: string): string[] {
  return contextFiles(context, ignorePatterns(context, dockerfile));
}

/** The image tag for a build context: the configured version, then the context digest. */
export function contentTag(version: string, digest: string): string {
  const base = version.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 100);
  return `${base}-${digest.slice(0, 16)}`;
}

interface IgnorePattern {
  negated: boolean;
  regex: RegExp;
  /** The literal leading part (before any wildcard): where a re-include can start. */
  prefix: string;
}

function ignorePatterns(context: string, dockerfile: string): IgnorePattern[] {
  const file = [`${dockerfile}.dockerignore`, join(context, ".dockerignore")].find(existsSync);
  if (!file) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!");
      const pattern = (negated ? line.slice(1) : line).trim().replace(/^\/+/, "").replace(/^\.\//, "").replace(/\/+$/, "");
      return { negated, regex: patternRegex(pattern), prefix: pattern.split(/[*?[]/)[0] ?? "" };
    });
}

/** Docker's ignore-file syntax (Go filepath.Match plus `**`): `*` within a segment, `**` across. */
function patternRegex(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === "*" && pattern[i + 1] === "*") {
      // "**/" also matches no directory at all.
      if (pattern[i + 2] === "/") {
        source += "(?:.*/)?";
        i += 2;
      } else {
        source += ".*";
        i += 1;
      }
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** Excluded when the last pattern matching the path, or one of its parent directories, is not negated. */
function excluded(path: string, patterns: IgnorePattern[]): boolean {
  const parts = path.split("/");
  const candidates = parts.map((_, index) => parts.slice(0, index + 1).join("/"));
  let result = false;
  for (const pattern of patterns) {
    if (candidates.some((candidate) => pattern.regex.test(candidate))) result = !pattern.negated;
  }
  return result;
}

/** Whether a re-include pattern could let something under an excluded directory back in. */
function mayReinclude(directory: string, patterns: IgnorePattern[]): boolean {
  return patterns.some((pattern) => pattern.negated && (pattern.prefix.startsWith(`${directory}/`) || `${directory}/`.startsWith(pattern.prefix) || pattern.prefix === ""));
}

function contextFiles(context: string, patterns: IgnorePattern[], directory = ""): string[] {
  const files: string[] = [];
  const entries = readdirSync(join(context, directory), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = directory ? `${directory}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if (!excluded(path, patterns) || mayReinclude(path, patterns)) files.push(...contextFiles(context, patterns, path));
    } else if (!excluded(path, patterns)) {
      files.push(relative(context, join(context, path)).split(sep).join("/"));
    }
  }
  return files;
}
