import type { PolicyPackArgs } from "@pulumi/policy";
import type { FundamentPolicy } from "./policy-definition";
import { secretPolicies } from "./rules/secrets";
import { exposurePolicies } from "./rules/exposure";
import { segmentationPolicies } from "./rules/segmentation";
import { hardeningPolicies } from "./rules/container-hardening";
import { kubernetesPolicies } from "./rules/kubernetes-hygiene";
import { applicationDefaultPolicies } from "./rules/application-defaults";
import { awsPolicies } from "./rules/aws";
import { awsIamPolicies } from "./rules/aws-iam";
import { gpuPolicies } from "./rules/gpu";
import { deployabilityPolicies } from "./rules/deployability";

export const PACK_NAME = "fundament-security";

/** The one list of policy objects: index.ts hands it to PolicyPack and evaluate.ts drives it offline. */
export const policies: readonly FundamentPolicy[] = [
  ...secretPolicies,
  ...exposurePolicies,
  ...segmentationPolicies,
  ...hardeningPolicies,
  ...kubernetesPolicies,
  ...applicationDefaultPolicies,
  ...awsPolicies,
  ...awsIamPolicies,
  ...gpuPolicies,
  ...deployabilityPolicies,
];

export const packArgs: PolicyPackArgs = {
  description: "Security policies for both fundament stacks: secrets, exposure, segmentation, hardening, Kubernetes hygiene, application defaults, AWS, GPU scheduling and what real Docker engines and providers refuse or replace.",
  // Each policy sets its own level; this only covers a policy that forgot to.
  enforcementLevel: "mandatory",
  policies: [...policies],
};
