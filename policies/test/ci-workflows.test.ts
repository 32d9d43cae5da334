import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { STACK_NAMES } from "../policy-definition";

const ROOT = join(__dirname, "..", "..");
const WORKFLOWS = join(ROOT, ".github", "workflows");

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}

interface Job {
  "runs-on"?: string;
  permissions?: unknown;
  container?: { image?: string };
  strategy?: { matrix?: Record<string, unknown> };
  env?: Record<string, string>;
  steps: Step[];
}

interface Workflow {
  on: Record<string, unknown>;
  permissions?: unknown;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

function read(name: string): { text: string; workflow: Workflow } {
  const text = readFileSync(join(WORKFLOWS, name), "utf8");
  return { text, workflow: parse(text) as Workflow };
}

const allSteps = (workflow: Workflow): Step[] => Object.values(workflow.jobs).flatMap((job) => job.steps);

describe.each(["ci.yml", "preview.yml"])("%s", (name) => {
  it("passes the SchemaStore github-workflow schema (@action-validator/core)", () => {
    expect(validateWorkflow(read(name).text).errors).toEqual([]);
  });

  it("pins every action to a major version", () => {
    const uses = allSteps(read(name).workflow).flatMap((step) => (step.uses ? [step.uses] : []));
    expect(uses.length).toBeGreaterThan(0);
    for (const action of uses) expect(action, action).toMatch(/^[\w.-]+\/[\w.-]+@v\d+$/);
  });

  it("passes credentials only from the secrets context", () => {
    const { workflow } = read(name);
    const envs = [workflow.env ?? {}, ...Object.values(workflow.jobs).map((job) => job.env ?? {})];
    for (const env of envs) {
      for (const [key, value] of Object.entries(env)) {
        if (/PASS|SECRET|TOKEN|KEY/.test(key)) expect(value, key).toMatch(/^\$\{\{\s*secrets\.\w+\s*\}\}$/);
      }
    }
  });
});

describe("the schema check itself", () => {
  it("rejects a workflow with a misspelt permission level and an unknown job key", () => {
    const broken = read("preview.yml").text.replace("pull-requests: write", "pull-requests: wirte").replace("runs-on:", "runs_on:");
    const titles = validateWorkflow(broken).errors.map((error) => error.title);
    expect(titles.length).toBeGreaterThan(0);
  });
});

describe("ci.yml", () => {
  const { workflow } = read("ci.yml");

  it("runs on push and on pull requests", () => {
    expect(Object.keys(workflow.on).sort()).toEqual(["pull_request", "push"]);
  });

  it("sets up Node 20 and runs .ci/run, which installs, typechecks, lints and tests", () => {
    const steps = allSteps(workflow);
    const node = steps.find((step) => step.uses?.startsWith("actions/setup-node@"));
    expect(String(node?.with?.["node-version"])).toBe("20");
    expect(steps.map((step) => step.run)).toContain("bash .ci/run");
    const ciRun = readFileSync(join(ROOT, ".ci", "run"), "utf8");
    for (const command of ["npm ci", "npm run typecheck", "npm run lint", "npm test"]) expect(ciRun).toContain(command);
  });

  it("reads the repository and nothing more", () => {
    expect(workflow.permissions).toEqual({ contents: "read" });
  });
});

describe("preview.yml", () => {
  const { workflow } = read("preview.yml");
  const [job] = Object.values(workflow.jobs);
  const pulumi = job?.steps.find((step) => step.uses?.startsWith("pulumi/actions@"));

  it("runs on pull requests only, with least-privilege permissions", () => {
    expect(Object.keys(workflow.on)).toEqual(["pull_request"]);
    expect(workflow.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    for (const each of Object.values(workflow.jobs)) expect(each.permissions).toBeUndefined();
  });

  it("previews both stacks through pulumi/actions with the policy pack and a PR comment", () => {
    expect(job?.strategy?.matrix?.["stack"]).toEqual([...STACK_NAMES]);
    expect(pulumi?.with).toMatchObject({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      policyPacks: "policies",
      policyPackConfigs: "policies/config/${{ matrix.stack }}.json",
      "comment-on-pr": true,
    });
    for (const stack of STACK_NAMES) expect(existsSync(join(ROOT, "policies", "config", `${stack}.json`)), stack).toBe(true);
    expect(existsSync(join(ROOT, "policies", "PulumiPolicy.yaml"))).toBe(true);
  });

  it("uses the configured backend secret, else a local file backend", () => {
    const backend = job?.env?.["PULUMI_BACKEND_URL"] ?? "";
    expect(backend).toContain("secrets.PULUMI_BACKEND_URL");
    expect(backend).toContain("file://");
    expect(pulumi?.with?.["cloud-url"]).toBe("${{ env.PULUMI_BACKEND_URL }}");
  });
});
