import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Docker cannot run on this machine, so the image is checked by reading its Dockerfile: the
 * properties a reviewer would look for, and that every file it copies reaches the build context.
 */
const repoRoot = join(__dirname, "..", "..", "..", "..");

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (keyword.toUpperCase() === "FROM") {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: match?.[1] ?? args, name: match?.[2], instructions: [] });
    } else {
      stages[stages.length - 1]?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

/** Docker's .dockerignore rules: last matching pattern wins, `!` re-includes, a match on a parent directory counts. */
function dockerignoreIncludes(patterns: string[], path: string): boolean {
  const toRegex = (pattern: string) =>
    new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*\/?/g, "\u0000").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]").replace(/\u0000/g, ".*")}$`);
  const segments = path.split("/");
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join("/"));
  let included = true;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const regex = toRegex(negated ? raw.slice(1) : raw);
    if (prefixes.some((prefix) => regex.test(prefix))) included = negated;
  }
  return included;
}

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((entry) => (entry === "node_modules" ? [] : filesUnder(join(path, entry))));
}

// The gpu-jobs image is built the same way; one set of checks holds both to it.
describe.each(["config", "gpu-jobs"])("services/%s/Dockerfile", (service) => {
  const serviceDir = join(repoRoot, "services", service);
  const stages = parseDockerfile(readFileSync(join(serviceDir, "Dockerfile"), "utf8"));
  const final = stages[stages.length - 1] as Stage;
  const ignore = readFileSync(join(serviceDir, "Dockerfile.dockerignore"), "utf8")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const contextCopies = stages.flatMap((stage) =>
    stage.instructions
      .filter((i) => (i.keyword === "COPY" || i.keyword === "ADD") && !i.args.startsWith("--from"))
      .flatMap((i) => i.args.replace(/--\S+/g, "").trim().split(/\s+/).slice(0, -1)),
  );

  it("is multi-stage, with pinned base images", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.from).toMatch(/^[^:]+:(?!latest$)\S+$/);
  });

  it("runs as a non-root user", () => {
    const users = final.instructions.filter((i) => i.keyword === "USER").map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1] as string;
    expect(user.split(":")[0]).not.toMatch(/^(root|0)$/);
  });

  it("declares a HEALTHCHECK probing /health/live", () => {
    const health = final.instructions.find((i) => i.keyword === "HEALTHCHECK");
    expect(health?.args).toMatch(/CMD/);
    expect(health?.args).toContain("/health/live");
  });

  it("ships production dependencies only", () => {
    const installs = stages.flatMap((stage) => stage.instructions.filter((i) => i.keyword === "RUN" && /npm (ci|install)/.test(i.args)).map((i) => ({ stage, args: i.args })));
    // The runtime stage installs nothing itself; it copies node_modules from a stage that omitted dev dependencies.
    expect(installs.some((install) => install.stage === final)).toBe(false);
    const prodOnly = stages.find((stage) => stage.instructions.some((i) => i.keyword === "RUN" && /npm ci\b.*--omit=dev/.test(i.args) && new RegExp(`--workspace services/${service}`).test(i.args)));
    expect(prodOnly?.name).toBeDefined();
    // The whole /app of that stage: workspace-nested node_modules (services/<service>/node_modules) come along.
    expect(final.instructions.some((i) => i.keyword === "COPY" && new RegExp(`--from=${prodOnly?.name} /app \\./?$`).test(i.args))).toBe(true);
    const otherStages = stages.filter((stage) => stage !== prodOnly && stage !== final).map((stage) => stage.name);
    for (const copy of final.instructions.filter((i) => i.keyword === "COPY" && i.args.startsWith("--from="))) {
      const from = copy.args.match(/--from=(\S+)/)?.[1];
      // From the build stage only the bundle: its node_modules hold dev dependencies.
      if (otherStages.includes(from)) expect(copy.args).toMatch(/\/dist /);
    }
    expect(final.instructions.some((i) => i.keyword === "COPY" && new RegExp(`services/${service}/src|services/kit/src`).test(i.args))).toBe(false);
  });

  it("copies every workspace manifest, so npm ci finds the tree its lockfile describes", () => {
    const root = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { workspaces: string[] };
    const manifests = root.workspaces.flatMap((pattern) =>
      pattern.endsWith("/*")
        ? readdirSync(join(repoRoot, pattern.slice(0, -2))).map((dir) => `${pattern.slice(0, -2)}/${dir}/package.json`)
        : [`${pattern}/package.json`],
    );
    for (const manifest of manifests.filter((m) => existsSync(join(repoRoot, m)))) expect(contextCopies).toContain(manifest);
  });

  it("lets every file it copies through its .dockerignore, and keeps node_modules and tests out", () => {
    for (const source of contextCopies) {
      const path = source.replace(/^\.\//, "").replace(/\/$/, "");
      expect(existsSync(join(repoRoot, path)), `${path} exists`).toBe(true);
      for (const file of filesUnder(join(repoRoot, path))) {
        const rel = relative(repoRoot, file);
        if (/\.test\.ts$/.test(rel)) continue;
        expect(dockerignoreIncludes(ignore, rel), `${rel} reaches the build context`).toBe(true);
      }
    }
    expect(dockerignoreIncludes(ignore, "node_modules/fastify/package.json")).toBe(false);
    expect(dockerignoreIncludes(ignore, `services/${service}/node_modules/ajv/package.json`)).toBe(false);
    expect(dockerignoreIncludes(ignore, `services/${service}/test/unit/dockerfile.test.ts`)).toBe(false);
    expect(dockerignoreIncludes(ignore, ".git/config")).toBe(false);
    expect(dockerignoreIncludes(ignore, "components/config/index.ts")).toBe(false);
  });

  it("gives the image no container engine: no Docker socket, CLI or daemon", () => {
    const text = readFileSync(join(serviceDir, "Dockerfile"), "utf8").split(/\r?\n/).filter((line) => !line.trim().startsWith("#")).join("\n");
    expect(text).not.toMatch(/docker\.sock|docker\.io|docker-ce|containerd|podman/);
  });
});
