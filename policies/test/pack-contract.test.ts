import { describe, expect, it, vi } from "vitest";
import type { PolicyPackArgs, ResourceValidation } from "@pulumi/policy";
import { policies as packPolicies } from "../pack";
import { evaluate } from "../evaluate";
import { CONCERNS, isStackPolicy, type FundamentPolicy } from "../policy-definition";
import { awsStack, dockerStack, kubernetesStack } from "../../tests/fixtures/policies/hardened-baselines";
import "../index";

const constructed = vi.hoisted(() => [] as { name: string; args: PolicyPackArgs }[]);

// PolicyPack's constructor starts the analyzer's gRPC server for the CLI; the test only needs
// to see what index.ts hands it.
vi.mock("@pulumi/policy", async (importOriginal) => {
  const original = await importOriginal<typeof import("@pulumi/policy")>();
  class RecordingPolicyPack {
    constructor(name: string, args: PolicyPackArgs) {
      constructed.push({ name, args });
    }
  }
  return { ...original, PolicyPack: RecordingPolicyPack };
});

describe("the pack index.ts constructs", () => {
  it("is fundament-security, built from the very policy objects the evaluator runs", () => {
    expect(constructed).toHaveLength(1);
    const [pack] = constructed;
    expect(pack?.name).toBe("fundament-security");
    const handed = pack?.args.policies ?? [];
    expect(handed.map((policy) => policy.name)).toEqual(packPolicies.map((policy) => policy.name));
    expect(handed.length).toBeGreaterThanOrEqual(40);
    handed.forEach((policy, index) => expect(policy).toBe(packPolicies[index]));
  });

  it("the evaluator calls those objects' validations (not a copy of their logic)", async () => {
    const policy = packPolicies.find((candidate) => candidate.name === "docker-memory-limit");
    if (!policy || isStackPolicy(policy) || typeof policy.validateResource !== "function") throw new Error("docker-memory-limit is a resource policy");
    const spy = vi.spyOn(policy as { validateResource: ResourceValidation }, "validateResource");
    const resources = dockerStack();
    await evaluate(resources, { stack: "dev" });
    expect(spy).toHaveBeenCalledTimes(resources.filter((resource) => resource.type === "docker:index/container:Container").length);
    spy.mockRestore();
  });

  it("has unique names and complete metadata for every rule", () => {
    const names = packPolicies.map((policy) => policy.name);
    expect(new Set(names).size).toBe(names.length);
    const incomplete = packPolicies.flatMap((policy: FundamentPolicy) => {
      const problems: string[] = [];
      if (!/^[a-z0-9-]+$/.test(policy.name)) problems.push("name");
      if (policy.description.length < 20) problems.push("description");
      if ((policy.remediationSteps ?? "").length < 20) problems.push("remediationSteps");
      if (!["low", "medium", "high", "critical"].includes(policy.severity ?? "")) problems.push("severity");
      if (!CONCERNS.includes(policy.concern)) problems.push("concern");
      if (!policy.configSchema?.properties["exemptions"]) problems.push("exemptions config");
      if (policy.stackEnforcement.prod === "advisory" && policy.stackEnforcement.dev === "mandatory") problems.push("dev stricter than prod");
      return problems.length > 0 ? [`${policy.name}: ${problems.join(", ")}`] : [];
    });
    expect(incomplete).toEqual([]);
  });

  it("covers every concern of the issue with several rules", () => {
    for (const concern of CONCERNS) expect(packPolicies.filter((policy) => policy.concern === concern).length, concern).toBeGreaterThanOrEqual(3);
  });

  it("has a hardened baseline resource for every type a rule targets", () => {
    const baselineTypes = new Set([...dockerStack(), ...kubernetesStack(), ...awsStack()].map((resource) => resource.type));
    const missing = packPolicies.flatMap((policy) =>
      Array.isArray(policy.targets) ? policy.targets.filter((type) => !baselineTypes.has(type)).map((type) => `${policy.name}: ${type}`) : [],
    );
    expect(missing).toEqual([]);
  });
});
