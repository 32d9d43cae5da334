import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { InventoryResource } from "../policies/evaluate";
import { main } from "../stacks/program";
import { readStackConfig, redactSecrets, runProgram, StackRun } from "./mock-engine";

/*
 * The policy fixtures' baseline of real resources: what the prod stack registers in AWS, plus one
 * service Deployment with its namespace, NetworkPolicies and budget, as the pack sees them
 * (secrets as "[secret]"). Fail fixtures break one field of these, so each AWS, EKS and GPU rule
 * is shown failing on the resource this stack creates, not on a hand-written look-alike.
 *   npx tsx scripts/prod-policy-baseline.ts --write   regenerate (a unit test compares it)
 */

export const BASELINE_FILE = join(__dirname, "..", "tests", "fixtures", "policies", "prod-stack-resources.json");

const SERVICE = "users";

function kept(resource: { type: string; name: string; inputs: Record<string, unknown> }): boolean {
  if (resource.type.startsWith("aws:") && !resource.type.startsWith("aws:ecr/")) return true;
  if (resource.type === "kubernetes:core/v1:Namespace" || resource.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy") return true;
  return ["kubernetes:apps/v1:Deployment", "kubernetes:policy/v1:PodDisruptionBudget"].includes(resource.type) && resource.name === SERVICE;
}

/**
 * A service image's digest follows its build context (every source file of the service and the
 * kit), so the baseline would go stale with any code change; the pack judges that an image is
 * pinned by digest, not which one, so the baseline holds a fixed digest of the same form.
 */
const SERVICE_IMAGE_DIGEST = /(\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/[^@"]+)@sha256:[0-9a-f]{64}/g;
const FIXED_DIGEST = `@sha256:${"0".repeat(64)}`;

function withFixedImageDigests<T>(value: T): T {
  return JSON.parse(JSON.stringify(value).replace(SERVICE_IMAGE_DIGEST, (_match, repository: string) => `${repository}${FIXED_DIGEST}`)) as T;
}

/** Names are unique per type only (a role and its cluster share one), so the baseline prefixes the kind: "Cluster/cluster-cluster". */
export function baselineOf(run: StackRun): InventoryResource[] {
  return run.resources.filter(kept).map((r) => ({ type: r.type, name: `${r.type.split(":").pop()}/${r.name}`, props: withFixedImageDigests(redactSecrets(r.inputs)) as Record<string, unknown> }));
}

export function renderBaseline(run: StackRun): string {
  return `${JSON.stringify(baselineOf(run), null, 1)}\n`;
}

if (require.main === module) {
  void runProgram("prod", readStackConfig("prod"), main).then((run) => {
    writeFileSync(BASELINE_FILE, renderBaseline(run));
    console.log(`wrote ${BASELINE_FILE}`);
  });
}
