import type { PolicyPackConfig } from "@pulumi/policy";
import type { RuleConfig } from "./exemptions";
import { STACK_NAMES, type FundamentPolicy, type StackName } from "./policy-definition";

/**
 * Exemptions that belong to a stack rather than to a rule. Each needs a reason a reviewer can check.
 * In dev, the data images keep their entrypoints, which start as root only to chown the data
 * directory of a fresh Docker volume and then drop to the service user with gosu.
 */
const STACK_EXEMPTIONS: Record<StackName, Record<string, RuleConfig>> = {
  dev: {
    "no-root-user": {
      imageExemptions: ["postgres", "redis", "mongo", "rabbitmq"].map((image) => ({
        image,
        reason: "official entrypoint starts as root only to chown the volume, then drops to its service user with gosu",
      })),
    },
  },
  prod: {},
};

export function isStackName(stack: string | undefined): stack is StackName {
  return STACK_NAMES.some((name) => name === stack);
}

/** The --policy-pack-config a stack is previewed with: per-policy enforcement plus the stack's exemptions. */
export function stackPolicyConfig(stack: StackName, policies: readonly FundamentPolicy[]): PolicyPackConfig {
  const config: PolicyPackConfig = {};
  for (const policy of policies) {
    config[policy.name] = { enforcementLevel: policy.stackEnforcement[stack], ...STACK_EXEMPTIONS[stack][policy.name] };
  }
  return config;
}
