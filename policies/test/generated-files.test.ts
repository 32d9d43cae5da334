import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { README, renderRulesTable, withTable } from "../scripts/rules-table";
import { renderStackConfig, stackConfigPath } from "../scripts/stack-configs";
import { STACK_NAMES } from "../policy-definition";
import { policies } from "../pack";

describe("generated files", () => {
  it("the README's rule table is the one the policy objects generate", () => {
    const readme = readFileSync(README, "utf8");
    expect(withTable(readme, renderRulesTable())).toBe(readme);
  });

  it("the README table names every rule with its concern, severity and per-stack enforcement", () => {
    const readme = readFileSync(README, "utf8");
    for (const policy of policies) {
      const row = readme.split("\n").find((line) => line.startsWith(`| \`${policy.name}\` |`));
      expect(row, policy.name).toBeDefined();
      const cells = (row ?? "").split(" | ");
      expect(cells.slice(1, 5)).toEqual([policy.concern, policy.severity, policy.stackEnforcement.dev, policy.stackEnforcement.prod]);
    }
  });

  it("the project README gives the pack's number of rules", () => {
    const projectReadme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");
    expect(/CrossGuard pack: (\d+) rules/.exec(projectReadme)?.[1]).toBe(String(policies.length));
  });

  it.each(STACK_NAMES)("config/%s.json is the one the policy objects generate", (stack) => {
    expect(readFileSync(stackConfigPath(stack), "utf8")).toBe(renderStackConfig(stack));
  });

  it("a policy that is advisory in dev and mandatory in prod reads so in the stack configs", () => {
    const dev = JSON.parse(readFileSync(stackConfigPath("dev"), "utf8")) as Record<string, { enforcementLevel: string }>;
    const prod = JSON.parse(readFileSync(stackConfigPath("prod"), "utf8")) as Record<string, { enforcementLevel: string }>;
    expect(dev["pinned-image-tags"]?.enforcementLevel).toBe("advisory");
    expect(prod["pinned-image-tags"]?.enforcementLevel).toBe("mandatory");
    expect(Object.keys(dev).sort()).toEqual(policies.map((policy) => policy.name).sort());
  });
});
