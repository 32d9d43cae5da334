import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { InventoryResource } from "../policies/evaluate";
import { selectorMatches, stringMap } from "../policies/model/kubernetes-objects";
import { asRecords, at } from "../policies/model/property-values";
import { main } from "../stacks/program";
import { readStackConfig, redactSecrets, runProgram, StackRun } from "./mock-engine";

/*
 * The policy fixtures' baseline of real resources: what the prod stack registers in AWS, plus one
 * service Deployment with its namespace, the NetworkPolicies that select it and its budget, as the pack sees them
 * (secrets as "[secret]"). Fail fixtures break one field of these, so each AWS, EKS and GPU rule
 * is shown failing on the resource this stack creates, not on a hand-written look-alike.
 *   npx tsx scripts/prod-policy-baseline.ts --write   regenerate (a unit test compares it)
 */

export const BASELINE_FILE = join(__dirname, "..", "tests", "fixtures", "policies", "prod-stack-resources.json");

const SERVICE = "users";

type RegisteredResource = { type: string; name: string; inputs: Record<string, unknown> };

const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

/**
 * The NetworkPolicies that select the service's pods (an empty selector selects every pod): the
 * others belong to workloads the baseline leaves out, and the pack calls a policy that selects no
 * pod of the stack dangling.
 */
function selectsService(resource: RegisteredResource, servicePodLabels: Record<string, string>): boolean {
  const selector = at(resource.inputs, "spec", "podSelector");
  const empty = Object.keys(stringMap(at(selector, "matchLabels"))).length === 0 && asRecords(at(selector, "matchExpressions")).length === 0;
  return empty || selectorMatches(selector, servicePodLabels);
}

function kept(resource: RegisteredResource, servicePodLabels: Record<string, string>): boolean {
  if (resource.type.startsWith("aws:") && !resource.type.startsWith("aws:ecr/")) return true;
  if (resource.type === "kubernetes:core/v1:Namespace") return true;
  if (resource.type === NETWORK_POLICY) return selectsService(resource, servicePodLabels);
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
  const service = run.resources.find((resource) => resource.type === "kubernetes:apps/v1:Deployment" && resource.name === SERVICE);
  const servicePodLabels = stringMap(at(service?.inputs, "spec", "template", "metadata", "labels"));
  return run.resources.filter((resource) => kept(resource, servicePodLabels)).map((r) => ({ type: r.type, name: `${r.type.split(":").pop()}/${r.name}`, props: withFixedImageDigests(redactSecrets(r.inputs)) as Record<string, unknown> }));
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
