import type {
  EnforcementLevel,
  PolicyConfigSchema,
  PolicyResource,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  Severity,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { PolicyConfigJSONSchema } from "@pulumi/policy/schema";
import { EXEMPTIONS_SCHEMA, findExemption, type RuleConfig } from "./exemptions";
import type { PropertyRecord } from "./model/property-values";

export type Concern =
  | "secrets"
  | "exposure"
  | "segmentation"
  | "container-hardening"
  | "kubernetes-hygiene"
  | "application-defaults"
  | "aws"
  | "gpu"
  | "deployability";

export const CONCERNS: readonly Concern[] = [
  "secrets",
  "exposure",
  "segmentation",
  "container-hardening",
  "kubernetes-hygiene",
  "application-defaults",
  "aws",
  "gpu",
  "deployability",
];

/** The stacks whose enforcement the pack knows; other stack names get each policy's own level. */
export type StackName = "dev" | "prod";
export const STACK_NAMES: readonly StackName[] = ["dev", "prod"];

export type RuleEnforcement = "mandatory" | "advisory";

/** What the pack adds to @pulumi/policy's Policy: the facts the README table and stack configs are built from. */
export interface FundamentPolicyFacts {
  concern: Concern;
  severity: Severity;
  remediationSteps: string;
  stackEnforcement: Record<StackName, RuleEnforcement>;
  /** Type tokens a resource policy judges ("any" for all); "stack" for a stack policy, which sees every resource. */
  targets: readonly string[] | "any" | "stack";
  /** What a resource policy judges besides `targets`, in words (objects found by their shape). */
  alsoJudges?: string;
}

export type FundamentResourcePolicy = ResourceValidationPolicy & FundamentPolicyFacts;
export type FundamentStackPolicy = StackValidationPolicy & FundamentPolicyFacts;
export type FundamentPolicy = FundamentResourcePolicy | FundamentStackPolicy;

/** The resource a rule judges, without the engine's option and provider details. */
export interface JudgedResource {
  type: string;
  name: string;
  urn: string;
  props: PropertyRecord;
}

interface PolicyText {
  name: string;
  description: string;
  concern: Concern;
  severity: Severity;
  remediation: string;
  /** One level for both stacks, or one per stack. */
  enforcement: RuleEnforcement | Record<StackName, RuleEnforcement>;
  /** Extra configuration besides `exemptions`. */
  config?: Record<string, PolicyConfigJSONSchema>;
}

export interface ResourceRuleSpec extends PolicyText {
  /** Pulumi type tokens the rule judges, or "any"; every other type is "not applicable" unless alsoJudges takes it. */
  types: readonly string[] | "any";
  /**
   * Resources of other types the rule judges too: a pod spec is recognised by its kind under
   * any API version, or by its shape, not only by the type tokens listed.
   */
  alsoJudges?: { description: string; matches(type: string, props: PropertyRecord): boolean };
  validate(resource: JudgedResource, report: (message: string) => void, config: RuleConfig): void;
}

export interface StackRuleSpec extends PolicyText {
  validate(resources: readonly JudgedResource[], report: (resource: JudgedResource, message: string) => void, config: RuleConfig): void;
}

function facts(spec: PolicyText, targets: FundamentPolicyFacts["targets"]): FundamentPolicyFacts & { enforcementLevel: EnforcementLevel; configSchema: PolicyConfigSchema } {
  const stackEnforcement =
    typeof spec.enforcement === "string" ? { dev: spec.enforcement, prod: spec.enforcement } : spec.enforcement;
  return {
    concern: spec.concern,
    severity: spec.severity,
    remediationSteps: spec.remediation,
    stackEnforcement,
    targets,
    // Without a stack config the strictest stack's level applies, so a forgotten
    // --policy-pack-config can only make the pack stricter, never more lenient.
    enforcementLevel: STACK_NAMES.some((stack) => stackEnforcement[stack] === "mandatory") ? "mandatory" : "advisory",
    configSchema: { properties: { exemptions: EXEMPTIONS_SCHEMA, ...spec.config } },
  };
}

export function defineResourcePolicy(spec: ResourceRuleSpec): FundamentResourcePolicy {
  const types = spec.types === "any" ? undefined : new Set(spec.types);
  const validateResource = (args: ResourceValidationArgs, reportViolation: ReportViolation): void => {
    if (types && !types.has(args.type) && !spec.alsoJudges?.matches(args.type, args.props)) {
      args.notApplicable(`Policy only applies to ${[...types].join(", ")}${spec.alsoJudges ? ` and ${spec.alsoJudges.description}` : ""}`);
    }
    const config = args.getConfig<RuleConfig>();
    const exemption = findExemption(config.exemptions, args.name, args.urn);
    if (exemption) {
      args.notApplicable(`exempted: ${exemption.reason}`);
    }
    spec.validate({ type: args.type, name: args.name, urn: args.urn, props: args.props }, (message) => reportViolation(message), config);
  };
  // The engine skips a policy for other types without calling it when the validation names its
  // one type the way validateResourceOfType does.
  if (spec.types !== "any" && spec.types.length === 1 && !spec.alsoJudges) Object.assign(validateResource, { __pulumiType: spec.types[0] });
  const policyFacts = facts(spec, spec.types);
  if (spec.alsoJudges) policyFacts.alsoJudges = spec.alsoJudges.description;
  return { name: spec.name, description: spec.description, ...policyFacts, validateResource };
}

export function defineStackPolicy(spec: StackRuleSpec): FundamentStackPolicy {
  return {
    name: spec.name,
    description: spec.description,
    ...facts(spec, "stack"),
    validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
      const config = args.getConfig<RuleConfig>();
      // Exempt resources are still seen (a NetworkPolicy keeps selecting pods); only findings against them are dropped.
      const judged = args.resources.map((resource: PolicyResource): JudgedResource => ({
        type: resource.type,
        name: resource.name,
        urn: resource.urn,
        props: resource.props,
      }));
      spec.validate(
        judged,
        (resource, message) => {
          if (!findExemption(config.exemptions, resource.name, resource.urn)) reportViolation(message, resource.urn);
        },
        config,
      );
    },
  };
}

export function isStackPolicy(policy: FundamentPolicy): policy is FundamentStackPolicy {
  return typeof (policy as Partial<FundamentStackPolicy>).validateStack === "function";
}
