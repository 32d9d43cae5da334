import * as pulumi from "@pulumi/pulumi";
import {
  validateResourceOfType,
  validateStackResourcesOfType,
  type ResourceValidationPolicy,
  type StackValidationPolicy,
} from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { evaluate, runPolicies, type InventoryResource } from "../evaluate";
import type { FundamentPolicy } from "../policy-definition";
import { dockerStack, kubernetesStack } from "../../tests/fixtures/policies/hardened-baselines";

const BUCKET = "aws:s3/bucketV2:BucketV2";

/** Stands in for an SDK resource class: the engine only reads its registered type token. */
class Bucket extends pulumi.CustomResource {
  static readonly __pulumiType = BUCKET;
  readonly acl!: pulumi.Output<string>;
  constructor(name: string, args: { acl?: string }) {
    super(BUCKET, name, args);
  }
}

function custom(policy: ResourceValidationPolicy | StackValidationPolicy): FundamentPolicy {
  return {
    ...policy,
    concern: "aws",
    severity: "low",
    remediationSteps: "fix it",
    stackEnforcement: { dev: "advisory", prod: "mandatory" },
    targets: "any",
  } as FundamentPolicy;
}

const bucket = (name: string, acl: string): InventoryResource => ({ type: BUCKET, name, props: { acl } });
const other: InventoryResource = { type: "aws:kms/key:Key", name: "key", props: { enableKeyRotation: true } };

function withImage(resources: InventoryResource[], name: string, image: string): InventoryResource[] {
  return resources.map((resource) => (resource.name === name ? { ...resource, props: { ...resource.props, image } } : resource));
}

describe("evaluate: input and configuration errors", () => {
  it("names every bad resource field with the value seen", async () => {
    const bad = [{ type: "", name: "a", props: {} }, { type: BUCKET, props: [] }] as unknown as InventoryResource[];
    await expect(evaluate(bad)).rejects.toThrow(
      [
        'evaluate: resources[0].type: must be a non-empty string (got "")',
        "evaluate: resources[1].name: must be a non-empty string (got undefined)",
        "evaluate: resources[1].props: must be an object of resource inputs (got [])",
      ].join("\n"),
    );
    await expect(evaluate("nope" as unknown as InventoryResource[])).rejects.toThrow("evaluate: resources: must be an array (got string)");
  });

  it("rejects pack configuration the CLI would reject, field by field", async () => {
    const config = {
      "no-root-usr": { enforcementLevel: "mandatory" as const },
      "no-root-user": { imageExemptions: [{ image: "postgres" }] },
      "docker-memory-limit": { exemptions: [{ reason: "no pattern" }], extra: true },
      "pinned-image-tags": { enforcementLevel: "strict" as "mandatory" },
    };
    const error = await evaluate([], { config }).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(error?.message.split("\n")).toEqual(
      expect.arrayContaining([
        "policy config no-root-usr: unknown policy (did you mean no-root-user?)",
        "policy config no-root-user.imageExemptions[0]: must have required property 'reason'",
        'policy config docker-memory-limit.exemptions[0]: must give a name or urn pattern besides the reason (got {"reason":"no pattern"})',
        "policy config docker-memory-limit.extra: must NOT have additional properties",
        'policy config pinned-image-tags.enforcementLevel: must be one of advisory, mandatory, remediate, disabled (got "strict")',
      ]),
    );
  });
});

describe("evaluate: enforcement per stack", () => {
  const unpinned = (): InventoryResource[] => withImage(dockerStack(), "users", "ghcr.io/fundament/users:latest");

  it("reports a dev-advisory rule as advisory in dev and mandatory in prod", async () => {
    const dev = await evaluate(unpinned(), { stack: "dev" });
    const prod = await evaluate(unpinned(), { stack: "prod" });
    expect(dev.map((finding) => [finding.policy, finding.enforcement])).toEqual([["pinned-image-tags", "advisory"]]);
    expect(prod.map((finding) => [finding.policy, finding.enforcement])).toEqual([["pinned-image-tags", "mandatory"]]);
  });

  it("uses each policy's strictest level for a stack it has no config for", async () => {
    const findings = await evaluate(unpinned(), { stack: "staging" });
    expect(findings.map((finding) => finding.enforcement)).toEqual(["mandatory"]);
  });

  it("skips a disabled policy and reports a remediate one as mandatory, as the engine does", async () => {
    expect(await evaluate(unpinned(), { stack: "prod", config: { "pinned-image-tags": "disabled" } })).toEqual([]);
    const remediate = await evaluate(unpinned(), { stack: "dev", config: { "pinned-image-tags": { enforcementLevel: "remediate" } } });
    expect(remediate.map((finding) => finding.enforcement)).toEqual(["mandatory"]);
  });
});

describe("evaluate: exemptions", () => {
  const rootly = (): InventoryResource[] =>
    dockerStack().map((resource) =>
      resource.name === "users" || resource.name === "postgres-exporter" ? { ...resource, props: { ...resource.props, user: "0" } } : resource,
    );

  it("matches name and urn glob patterns, and needs both when both are given", async () => {
    const names = async (exemption: Record<string, string>): Promise<string[]> =>
      (await evaluate(rootly(), { stack: "prod", config: { "no-root-user": { exemptions: [{ ...exemption, reason: "test" }] } } })).map((finding) => finding.name);
    expect(await names({ name: "users" })).toEqual(["postgres-exporter"]);
    expect(await names({ name: "*-exporter" })).toEqual(["users"]);
    expect(await names({ urn: "urn:pulumi:prod::*::docker:index/container:Container::user?" })).toEqual(["postgres-exporter"]);
    expect(await names({ name: "users", urn: "urn:pulumi:dev::*" })).toEqual(["users", "postgres-exporter"]);
  });

  it("matches a resource's own urn when the inventory gives one", async () => {
    const resources = rootly().map((resource) => (resource.name === "users" ? { ...resource, urn: "urn:pulumi:prod::fundament::fundament:services:Users$docker:index/container:Container::users" } : resource));
    const findings = await evaluate(resources, { stack: "prod", config: { "no-root-user": { exemptions: [{ urn: "*fundament:services:Users$*", reason: "test" }] } } });
    expect(findings.map((finding) => finding.name)).toEqual(["postgres-exporter"]);
  });

  it("exempts images for the root-user rule by repository or tag glob", async () => {
    const config = (image: string) => ({ "no-root-user": { imageExemptions: [{ image, reason: "entrypoint drops root" }] } });
    const names = async (image: string): Promise<string[]> => (await evaluate(rootly(), { stack: "prod", config: config(image) })).map((finding) => finding.name);
    expect(await names("ghcr.io/fundament/users")).toEqual(["postgres-exporter"]);
    expect(await names("ghcr.io/fundament/users:1.*")).toEqual(["postgres-exporter"]);
    expect(await names("ghcr.io/fundament/users:2.*")).toEqual(["users", "postgres-exporter"]);
  });

  it("drops a stack policy's finding on an exempt resource while still using it to judge the others", async () => {
    const resources = kubernetesStack().filter((resource) => resource.name !== "zone-backend");
    const all = (await evaluate(resources, { stack: "prod" })).filter((finding) => finding.policy === "workload-selected-by-network-policy");
    expect(all.map((finding) => finding.name).sort()).toEqual(["create-buckets", "gpu-jobs", "postgres", "postgres-backup", "redis"]);
    const config = { "workload-selected-by-network-policy": { exemptions: [{ name: "postgres*", reason: "test" }] } };
    const left = (await evaluate(resources, { stack: "prod", config })).filter((finding) => finding.policy === "workload-selected-by-network-policy");
    expect(left.map((finding) => finding.name).sort()).toEqual(["create-buckets", "gpu-jobs", "redis"]);
  });
});

describe("runPolicies: the engine's calling conventions", () => {
  it("drives validateResourceOfType with isType and typed props, skipping other types", async () => {
    const seen: string[] = [];
    const policy = custom({
      name: "no-public-acl",
      description: "Buckets must not be public.",
      enforcementLevel: "mandatory",
      validateResource: validateResourceOfType(Bucket, (props, args, report) => {
        seen.push(args.name);
        expect(args.isType(Bucket)).toBe(true);
        expect(args.asType(Bucket)).toEqual(props);
        if (props.acl === "public-read") report(`acl is ${props.acl}`);
      }),
    });
    const findings = await runPolicies([policy], [bucket("logs", "private"), other, bucket("site", "public-read")]);
    expect(seen).toEqual(["logs", "site"]);
    expect(findings).toEqual([{ policy: "no-public-acl", enforcement: "mandatory", type: BUCKET, name: "site", message: "acl is public-read" }]);
  });

  it("runs every function of a validateResource array and awaits async ones", async () => {
    const policy = custom({
      name: "two-checks",
      description: "Two checks.",
      enforcementLevel: "advisory",
      validateResource: [
        async (args, report) => {
          await new Promise((resolve) => setImmediate(resolve));
          if (args.type === BUCKET) report("first");
        },
        (args, report) => {
          if (args.type === BUCKET) report("");
        },
      ],
    });
    const findings = await runPolicies([policy], [bucket("logs", "private")]);
    expect(findings.map((finding) => finding.message)).toEqual(["first", "Two checks."]);
  });

  it("gives each validation its own copy of the inputs", async () => {
    const mutate = custom({
      name: "mutates",
      description: "Mutates its input.",
      validateResource: (args) => {
        (args.props as { acl: string }).acl = "public-read";
      },
    });
    const read = custom({
      name: "reads",
      description: "Reads the input.",
      enforcementLevel: "mandatory",
      validateResource: (args, report) => {
        if ((args.props as { acl: string }).acl === "public-read") report("saw a mutation");
      },
    });
    const resources = [bucket("logs", "private")];
    expect(await runPolicies([mutate, read], resources)).toEqual([]);
    expect(resources[0]?.props["acl"]).toBe("private");
  });

  it("treats notApplicable as no finding and names the policy and resource when a validation throws", async () => {
    const declines = custom({ name: "declines", description: "Declines.", validateResource: (args) => args.notApplicable("not mine") });
    expect(await runPolicies([declines], [bucket("logs", "private")])).toEqual([]);
    const broken = custom({
      name: "broken",
      description: "Throws.",
      validateResource: () => {
        throw new Error("cannot read acl");
      },
    });
    await expect(runPolicies([broken], [bucket("logs", "private")])).rejects.toThrow(`policy broken failed on ${BUCKET} logs: cannot read acl`);
  });

  it("hands stack policies every resource, maps reported urns back, and puts urn-less findings on the stack", async () => {
    const policy = custom({
      name: "one-bucket",
      description: "At most one bucket.",
      enforcementLevel: "mandatory",
      validateStack: validateStackResourcesOfType(Bucket, (buckets, args, report) => {
        expect(args.resources.every((resource) => resource.isType(Bucket))).toBe(true);
        if (buckets.length > 1) report(`${buckets.length} buckets`);
        const second = args.resources[1];
        if (second) report("this one is extra", second.urn);
      }),
    });
    const findings = await runPolicies([policy], [bucket("a", "private"), other, bucket("b", "private")], { stack: "prod" });
    expect(findings).toEqual([
      { policy: "one-bucket", enforcement: "mandatory", type: "pulumi:pulumi:Stack", name: "prod", message: "2 buckets" },
      { policy: "one-bucket", enforcement: "mandatory", type: BUCKET, name: "b", message: "this one is extra" },
    ]);
  });
});
