import { describe, expect, it } from "vitest";
import { StackConfigError } from "../../components/config";
import { readStackConfig, RecordedResource, runProgram } from "../../scripts/mock-engine";
import { main } from "../../stacks/program";

/** Runs the real program with `changes` applied to a stack's config and returns the failure. */
async function reject(stack: string, changes: Record<string, unknown>): Promise<{ error: unknown; registered: RecordedResource[] }> {
  const config = readStackConfig(stack);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete config[key];
    else config[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  try {
    await runProgram(stack, config, main);
  } catch (error) {
    return { error, registered: (error as { registered?: RecordedResource[] }).registered ?? [] };
  }
  throw new Error("the program accepted a broken config");
}

describe("broken stack configs", () => {
  it.each([
    ["dev", { "fundament:target": undefined }, "fundament:target: required"],
    ["dev", { "fundament:target": "swarm" }, "fundament:target: must be one of docker, kubernetes"],
    ["dev", { "fundament:tagret": "docker" }, "fundament:tagret: unknown key (did you mean fundament:target?)"],
    ["prod", { "fundament:postgres": { memoryMiB: 64 } }, "fundament:postgres.memoryMiB: must be at least 256 (got 64)"],
    ["prod", { "fundament:redis": { image: "redis:latest" } }, "fundament:redis.image: must not use the moving tag latest"],
    ["prod", { "fundament:mongo": { image: "not a ref" } }, "fundament:mongo.image: is not a valid image reference"],
    ["prod", { "fundament:backup": { schedule: "every night" } }, "fundament:backup.schedule:"],
    ["prod", { "fundament:postgres": { maxConnections: "many" } }, "fundament:postgres.maxConnections: must be a number"],
    ["dev", { "fundament:kubernetes": { namespace: "Prod_NS" } }, "fundament:kubernetes.namespace: must be a DNS label"],
    ["dev", { "fundament:tokenSigning": { generation: 0 } }, "fundament:tokenSigning.generation: must be at least 1 (got 0)"],
    ["prod", { "fundament:tokenSigning": { generation: 2.5 } }, "fundament:tokenSigning.generation: must be a whole number (got 2.5)"],
    ["prod", { "fundament:tokenSigning": { acceptPrevious: "no" } }, "fundament:tokenSigning.acceptPrevious: must be"],
  ])("%s with %j is refused before any resource is registered", async (stack, changes, expected) => {
    const { error, registered } = await reject(stack, changes);
    expect(error).toBeInstanceOf(StackConfigError);
    expect((error as StackConfigError).problems.some((p) => p.startsWith(expected)), (error as Error).message).toBe(true);
    expect(registered.filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });
});
