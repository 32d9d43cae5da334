import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

// Docker cannot build here (no engine): these tests read the Dockerfile and its ignore file
// the way the builder would and check the properties the image must have.
const REPO = join(__dirname, "..", "..", "..");
const DOCKERFILE = readFileSync(join(__dirname, "..", "Dockerfile"), "utf8");
const IGNORE = readFileSync(join(__dirname, "..", "Dockerfile.dockerignore"), "utf8");

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  base: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Joins continuation lines, drops comments and the parser directive, splits keyword from arguments. */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.replace(/\s+$/, "");
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== "") logical.push(current.trim());
    current = "";
  }
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical) {
    const match = /^(\w+)\s+([\s\S]*)$/.exec(line);
    if (!match) throw new Error(`unparseable Dockerfile line: ${line}`);
    const instruction = { keyword: match[1]!.toUpperCase(), args: match[2]!.trim() };
    if (instruction.keyword === "FROM") {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args)!;
      stages.push({ base: from[1]!, name: from[2], instructions: [] });
    } else if (stages.length === 0) args.push(instruction);
    else stages.at(-1)!.instructions.push(instruction);
  }
  return { args, stages };
}

/** Docker's .dockerignore semantics for the patterns used: the last matching line wins. */
function included(path: string, ignore: string): boolean {
  let keep = true;
  for (const raw of ignore.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const negated = line.startsWith("!");
    const pattern = negated ? line.slice(1) : line;
    const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*/g, "\u0000").replace(/\*/g, "[^/]*").replace(/\u0000/g, ".*")}$`);
    if (regex.test(path)) keep = negated;
  }
  return keep;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [relative(REPO, dir)];
  return readdirSync(dir).flatMap((entry) => (entry === "node_modules" || entry === "dist" ? [] : filesUnder(join(dir, entry))));
}

const { args, stages } = parseDockerfile(DOCKERFILE);
const final = stages.at(-1)!;
const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);

describe("users Dockerfile", () => {
  it("is multi-stage and every stage starts from a pinned Node image", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const image = args.find((a) => a.keyword === "ARG" && a.args.startsWith("NODE_IMAGE="))!.args.split("=")[1]!;
    expect(image).toMatch(/^node:\d+\.\d+\.\d+-[a-z-]+$/);
    for (const stage of stages) expect(stage.base).toBe("${NODE_IMAGE}");
  });

  it("installs production dependencies only into what the final stage runs", () => {
    const depsStage = stages.find((stage) => runs(stage).some((run) => /npm ci\b.*--omit=dev/.test(run)));
    expect(depsStage?.name).toBeDefined();
    expect(final.instructions.some((i) => i.keyword === "COPY" && i.args.includes(`--from=${depsStage!.name}`))).toBe(true);
    // The final stage installs nothing itself, and takes only compiled output from the build stage.
    expect(runs(final)).toEqual([]);
    const fromBuild = final.instructions.filter((i) => i.keyword === "COPY" && i.args.includes("--from=build")).map((i) => i.args.split(/\s+/)[1]);
    expect(fromBuild.every((source) => /\/dist$|package\.json$/.test(source!))).toBe(true);
  });

  it("compiles with tsc in the build stage and runs the compiled server", () => {
    const build = stages.find((stage) => stage.name === "build")!;
    expect(runs(build).join(" ")).toContain("tsc -p services/users/tsconfig.build.json");
    const cmd = final.instructions.find((i) => i.keyword === "CMD")!;
    expect(JSON.parse(cmd.args)).toEqual(["node", "services/users/dist/server.js"]);
  });

  it("runs as a non-root user, by number", () => {
    const users = final.instructions.filter((i) => i.keyword === "USER").map((i) => i.args);
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.split(":").map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    // USER must come after everything that writes into the image.
    const lastWrite = Math.max(...final.instructions.map((i, index) => (["COPY", "RUN", "ADD"].includes(i.keyword) ? index : -1)));
    expect(final.instructions.findIndex((i) => i.keyword === "USER")).toBeGreaterThan(lastWrite);
  });

  it("has a HEALTHCHECK against the readiness endpoint, with a timeout", () => {
    const healthcheck = final.instructions.find((i) => i.keyword === "HEALTHCHECK");
    expect(healthcheck).toBeDefined();
    expect(healthcheck!.args).toMatch(/--timeout=\d+s/);
    expect(healthcheck!.args).toContain("/health/ready");
    expect(healthcheck!.args).toMatch(/CMD \[/);
  });

  it("copies only paths the ignore file admits, and they exist", () => {
    const sources = stages.flatMap((stage) =>
      stage.instructions.filter((i) => i.keyword === "COPY" && !i.args.includes("--from=")).flatMap((i) => i.args.split(/\s+/).slice(0, -1)),
    );
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      const files = filesUnder(join(REPO, source));
      expect(files.length, `${source} exists`).toBeGreaterThan(0);
      expect(files.some((file) => included(file, IGNORE)), `${source} is admitted by Dockerfile.dockerignore`).toBe(true);
    }
  });

  it("keeps tests, node_modules, git and local state out of the build context", () => {
    for (const path of ["services/users/test/journey.test.ts", "services/kit/test/env.test.ts", "node_modules/pg/package.json", ".git/HEAD", ".pulumi-state/x", "services/config/src/app.ts", "stacks/index.ts"]) {
      expect(included(path, IGNORE), path).toBe(false);
    }
    for (const path of ["services/users/src/server.ts", "services/users/migrations/001_users.sql", "services/users/data/common-passwords.txt", "services/kit/src/index.ts", "package-lock.json"]) {
      expect(included(path, IGNORE), path).toBe(true);
    }
  });
});
