import type {
  EnforcementLevel,
  PolicyPackConfig,
  PolicyResource,
  PolicyResourceOptions,
  ReportViolation,
  ResourceValidation,
  ResourceValidationArgs,
  StackValidationArgs,
} from "@pulumi/policy";
import { packArgs, policies as packPolicies } from "./pack";
import { isStackPolicy, type FundamentPolicy } from "./policy-definition";
import { validatePolicyPackConfig, type PolicyProperties } from "./policy-config-validation";
import { isStackName, stackPolicyConfig } from "./stack-config";

/** One resource of a stack as the lead's inventory records it: type token, name and inputs. */
export interface InventoryResource {
  type: string;
  name: string;
  urn?: string;
  props: Record<string, unknown>;
}

export interface EvaluateOptions {
  /** "dev" or "prod" select that stack's enforcement and exemptions; any other name keeps each policy's own level. */
  stack?: string;
  /** Extra pack configuration, merged over the stack's (same shape as --policy-pack-config). */
  config?: PolicyPackConfig;
}

export interface Finding {
  policy: string;
  enforcement: "mandatory" | "advisory";
  type: string;
  name: string;
  message: string;
}

/** What the engine's notApplicable throws; a policy that calls it reports nothing. */
class NotApplicable extends Error {}

function notApplicable(reason?: string): never {
  // Most policies decline most resources; a stack trace per decline would dominate the run time.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const declined = new NotApplicable(reason ?? "Policy does not apply");
  Error.stackTraceLimit = limit;
  throw declined;
}

const NO_OPTIONS: PolicyResourceOptions = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

const NO_TAGS: ReadonlyMap<string, string> = new Map();

/** The engine's type test: the class's registered type token, else its isInstance. */
function isTypeOf(type: string, resourceClass: unknown): boolean {
  const candidate = resourceClass as { __pulumiType?: unknown; isInstance?: unknown } | undefined;
  if (typeof candidate?.__pulumiType === "string" && candidate.__pulumiType !== "") return candidate.__pulumiType === type;
  const isInstance = candidate?.isInstance;
  return typeof isInstance === "function" && (isInstance as (value: unknown) => unknown)({ __pulumiType: type }) === true;
}

function validateResources(resources: unknown): InventoryResource[] {
  if (!Array.isArray(resources)) throw new Error(`evaluate: resources: must be an array (got ${typeof resources})`);
  const problems: string[] = [];
  resources.forEach((resource: unknown, index) => {
    const record = typeof resource === "object" && resource !== null ? (resource as Record<string, unknown>) : undefined;
    if (!record) {
      problems.push(`evaluate: resources[${index}]: must be an object with type, name and props (got ${JSON.stringify(resource)})`);
      return;
    }
    for (const field of ["type", "name"]) {
      if (typeof record[field] !== "string" || record[field] === "") {
        problems.push(`evaluate: resources[${index}].${field}: must be a non-empty string (got ${JSON.stringify(record[field])})`);
      }
    }
    if (record["urn"] !== undefined && typeof record["urn"] !== "string") {
      problems.push(`evaluate: resources[${index}].urn: must be a string when given (got ${JSON.stringify(record["urn"])})`);
    }
    const props = record["props"];
    if (typeof props !== "object" || props === null || Array.isArray(props)) {
      problems.push(`evaluate: resources[${index}].props: must be an object of resource inputs (got ${JSON.stringify(props)})`);
    }
  });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return resources as InventoryResource[];
}

function mergeConfig(base: PolicyPackConfig, extra: PolicyPackConfig | undefined): PolicyPackConfig {
  const merged: PolicyPackConfig = { ...base };
  for (const [name, entry] of Object.entries(extra ?? {})) {
    const previous = merged[name];
    const before = typeof previous === "string" ? { enforcementLevel: previous } : previous ?? {};
    const after = typeof entry === "string" ? { enforcementLevel: entry } : entry;
    merged[name] = { ...before, ...after };
  }
  return merged;
}

function enforcementOf(policy: FundamentPolicy, properties: PolicyProperties | undefined): EnforcementLevel {
  return properties?.enforcementLevel ?? policy.enforcementLevel ?? packArgs.enforcementLevel ?? "advisory";
}

function getPulumiType(validation: unknown): string | undefined {
  const type = (validation as { __pulumiType?: unknown } | undefined)?.__pulumiType;
  return typeof type === "string" && type !== "" ? type : undefined;
}

/**
 * Runs every policy of the pack (the same objects index.ts hands to PolicyPack) over a stack's
 * resources, the way the engine's analyzer does: resource policies per resource, then stack
 * policies over all of them, with the stack's enforcement levels and exemptions.
 */
export async function evaluate(resources: InventoryResource[], options: EvaluateOptions = {}): Promise<Finding[]> {
  return runPolicies(packPolicies, resources, options);
}

/** evaluate() for any list of policies: how the tests check the engine semantics with policies of their own. */
export async function runPolicies(policies: readonly FundamentPolicy[], resources: InventoryResource[], options: EvaluateOptions = {}): Promise<Finding[]> {
  const checked = validateResources(resources);
  const stack = options.stack;
  const base = isStackName(stack) ? stackPolicyConfig(stack, policies) : {};
  const config = validatePolicyPackConfig(mergeConfig(base, options.config), policies);
  const urnOf = (resource: InventoryResource): string => resource.urn ?? `urn:pulumi:${stack ?? "stack"}::fundament::${resource.type}::${resource.name}`;
  const findings: Finding[] = [];

  for (const policy of policies) {
    const properties = config.get(policy.name);
    let level = enforcementOf(policy, properties);
    if (level === "disabled") continue;
    // Violations of a policy set to remediate are reported as mandatory, as the engine does.
    if (level === "remediate") level = "mandatory";
    const enforcement = level;
    // Like the engine: a fresh object of the policy's properties, without enforcementLevel.
    const getConfig = <T extends object>(): T => {
      const { enforcementLevel: _level, ...rest } = properties ?? {};
      return rest as T;
    };

    if (isStackPolicy(policy)) {
      const stackResources: PolicyResource[] = checked.map((resource) => {
        const props = structuredClone(resource.props);
        return {
          type: resource.type,
          name: resource.name,
          urn: urnOf(resource),
          props,
          opts: NO_OPTIONS,
          dependencies: [],
          propertyDependencies: {},
          isType: (resourceClass) => isTypeOf(resource.type, resourceClass),
          asType: ((resourceClass: unknown) => (isTypeOf(resource.type, resourceClass) ? props : undefined)) as PolicyResource["asType"],
        };
      });
      const report: ReportViolation = (message, urn) => {
        const target = urn === undefined ? undefined : checked.find((resource) => urnOf(resource) === urn);
        findings.push({
          policy: policy.name,
          enforcement,
          type: target?.type ?? "pulumi:pulumi:Stack",
          name: target?.name ?? stack ?? "stack",
          message: message || policy.description,
        });
      };
      const args: StackValidationArgs = { resources: stackResources, stackTags: NO_TAGS, getConfig, notApplicable };
      await run(policy.name, "the stack", () => policy.validateStack(args, report));
      continue;
    }

    const validations: ResourceValidation[] = policy.validateResource === undefined ? [] : Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const resource of checked) {
      const fastType = validations.length === 1 ? getPulumiType(validations[0]) : undefined;
      if (fastType !== undefined && fastType !== resource.type) continue;
      for (const validation of validations) {
        // The engine hands each validation its own copy of the inputs. Copying lazily keeps that
        // isolation while sparing the copy for the many policies that only look at args.type.
        let props: Record<string, unknown> | undefined;
        const ownProps = (): Record<string, unknown> => (props ??= structuredClone(resource.props));
        const args: ResourceValidationArgs = {
          type: resource.type,
          name: resource.name,
          urn: urnOf(resource),
          get props() {
            return ownProps();
          },
          opts: NO_OPTIONS,
          stackTags: NO_TAGS,
          isType: (resourceClass) => isTypeOf(resource.type, resourceClass),
          asType: ((resourceClass: unknown) => (isTypeOf(resource.type, resourceClass) ? ownProps() : undefined)) as ResourceValidationArgs["asType"],
          getConfig,
          notApplicable,
        };
        const report: ReportViolation = (message) => {
          findings.push({ policy: policy.name, enforcement, type: resource.type, name: resource.name, message: message || policy.description });
        };
        await run(policy.name, `${resource.type} ${resource.name}`, () => validation(args, report));
      }
    }
  }
  return findings;
}

async function run(policy: string, subject: string, validation: () => Promise<void> | void): Promise<void> {
  try {
    await validation();
  } catch (error) {
    if (error instanceof NotApplicable) return;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`policy ${policy} failed on ${subject}: ${reason}`, { cause: error });
  }
}
