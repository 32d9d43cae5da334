import { asRecord, asRecords, asString, at, type PropertyRecord } from "./property-values";
import { asWorkloadRole, type WorkloadRole } from "./data-services";
import { readKnown } from "./unknown-values";

export const K8S_POD = "kubernetes:core/v1:Pod";
export const K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment";
export const K8S_STATEFUL_SET = "kubernetes:apps/v1:StatefulSet";
export const K8S_DAEMON_SET = "kubernetes:apps/v1:DaemonSet";
export const K8S_REPLICA_SET = "kubernetes:apps/v1:ReplicaSet";
export const K8S_JOB = "kubernetes:batch/v1:Job";
export const K8S_CRON_JOB = "kubernetes:batch/v1:CronJob";
export const K8S_SERVICE = "kubernetes:core/v1:Service";
export const K8S_CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
export const K8S_SECRET = "kubernetes:core/v1:Secret";
export const K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
export const K8S_POD_DISRUPTION_BUDGET = "kubernetes:policy/v1:PodDisruptionBudget";
export const K8S_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role";
export const K8S_CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole";
export const K8S_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding";
export const K8S_CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding";
export const K8S_PERSISTENT_VOLUME = "kubernetes:core/v1:PersistentVolume";

/** Where a kind carries its pod spec and its pods' labels. */
interface PodSpecPlace {
  spec: readonly string[];
  labels: readonly string[];
}

const POD_ITSELF: PodSpecPlace = { spec: ["spec"], labels: ["metadata", "labels"] };
const TEMPLATE_IN_SPEC: PodSpecPlace = { spec: ["spec", "template", "spec"], labels: ["spec", "template", "metadata", "labels"] };
const TEMPLATE_IN_JOB_TEMPLATE: PodSpecPlace = {
  spec: ["spec", "jobTemplate", "spec", "template", "spec"],
  labels: ["spec", "jobTemplate", "spec", "template", "metadata", "labels"],
};
const TEMPLATE_AT_TOP: PodSpecPlace = { spec: ["template", "spec"], labels: ["template", "metadata", "labels"] };

/**
 * Kinds that carry a pod spec, by kind alone: the same kind under an old or unusual API version
 * (extensions/v1beta1 and apps/v1beta2 Deployments, batch/v1beta1 CronJobs, what a YAML file
 * declares) holds its pods in the same place.
 */
const POD_SPEC_PLACES_BY_KIND: Record<string, PodSpecPlace> = {
  Pod: POD_ITSELF,
  PodTemplate: TEMPLATE_AT_TOP,
  Deployment: TEMPLATE_IN_SPEC,
  StatefulSet: TEMPLATE_IN_SPEC,
  DaemonSet: TEMPLATE_IN_SPEC,
  ReplicaSet: TEMPLATE_IN_SPEC,
  ReplicationController: TEMPLATE_IN_SPEC,
  Job: TEMPLATE_IN_SPEC,
  CronJob: TEMPLATE_IN_JOB_TEMPLATE,
};

/** For kinds the list does not know (custom resources such as a Rollout), the places a pod spec is found by its shape. */
const POD_SPEC_SHAPES: readonly PodSpecPlace[] = [TEMPLATE_IN_SPEC, TEMPLATE_IN_JOB_TEMPLATE, POD_ITSELF, TEMPLATE_AT_TOP];

/** The v1 type tokens of the kinds above: what the README names and the baselines hold. */
export const POD_CONTROLLER_TYPES: readonly string[] = [K8S_POD, K8S_DEPLOYMENT, K8S_STATEFUL_SET, K8S_DAEMON_SET, K8S_REPLICA_SET, K8S_JOB, K8S_CRON_JOB];

/** The kind of a Kubernetes type token, whatever its group and version: "kubernetes:apps/v1beta2:Deployment" is a Deployment. */
export function kubernetesKind(type: string): string | undefined {
  const [provider, , kind] = type.split(":");
  return provider === "kubernetes" && kind !== undefined && kind !== "" ? kind : undefined;
}

export function isKind(type: string, ...kinds: string[]): boolean {
  const kind = kubernetesKind(type);
  return kind !== undefined && kinds.includes(kind);
}

function podSpecPlace(type: string, props: PropertyRecord): PodSpecPlace | undefined {
  const kind = kubernetesKind(type);
  if (kind === undefined) return undefined;
  const known = POD_SPEC_PLACES_BY_KIND[kind];
  if (known) return known;
  // A patch carries only the fields it changes: the rules that ask for a field would call every
  // field it leaves alone missing.
  if (kind.endsWith("Patch") || kind.endsWith("List")) return undefined;
  return POD_SPEC_SHAPES.find((place) => Array.isArray(readKnown(() => at(props, ...place.spec, "containers"))));
}

/** A Kubernetes object that runs pods: a kind known to, or any object shaped like it (a custom resource with a pod template). */
export function carriesPodSpec(type: string, props: PropertyRecord): boolean {
  return podSpecPlace(type, props) !== undefined;
}

/** What the pod rules judge beyond POD_CONTROLLER_TYPES: the README's wording and the test the engine runs. */
export const POD_SPEC_SHAPE = {
  description: "any Kubernetes object with a pod spec (by kind or shape)",
  matches: carriesPodSpec,
};

/** Controllers that keep pods running (as opposed to run-to-completion jobs). */
export const LONG_RUNNING_KINDS: readonly string[] = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod"];
export const LONG_RUNNING_TYPES: readonly string[] = [K8S_DEPLOYMENT, K8S_STATEFUL_SET, K8S_DAEMON_SET, K8S_REPLICA_SET, K8S_POD];

export const LONG_RUNNING_SHAPE = {
  description: "the same kinds under any API version",
  matches: (type: string): boolean => isKind(type, ...LONG_RUNNING_KINDS),
};

/**
 * RBAC objects by kind, whatever their API version: v1beta1 Roles still come from old charts and
 * YAML files, and a patch grants the rules it carries as surely as the object does.
 */
export const RBAC_ROLE_SHAPE = {
  description: "the same kinds (and their patches) under any API version",
  matches: (type: string): boolean => isKind(type, "Role", "ClusterRole", "RolePatch", "ClusterRolePatch"),
};
export const RBAC_BINDING_SHAPE = {
  description: "the same kinds (and their patches) under any API version",
  matches: (type: string): boolean => isKind(type, "RoleBinding", "ClusterRoleBinding", "RoleBindingPatch", "ClusterRoleBindingPatch"),
};

/** Namespaced kinds the hygiene rules look at. */
export const NAMESPACED_TYPES: readonly string[] = [
  ...POD_CONTROLLER_TYPES,
  K8S_SERVICE,
  K8S_CONFIG_MAP,
  K8S_SECRET,
  K8S_NETWORK_POLICY,
  K8S_POD_DISRUPTION_BUDGET,
  K8S_ROLE,
  K8S_ROLE_BINDING,
  "kubernetes:core/v1:ServiceAccount",
  "kubernetes:networking.k8s.io/v1:Ingress",
  "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
];

export interface PodContainer {
  container: PropertyRecord;
  /** How a finding names it: `containers[1] "api"` or `initContainers[0] "migrate"`. */
  label: string;
  init: boolean;
  /** A debugging container added to a running pod (kubectl debug): no probes, no resources, no ports. */
  ephemeral: boolean;
}

export interface PodView {
  spec: PropertyRecord;
  /** The pods' own labels: what NetworkPolicies, budgets and Services select. */
  labels: Record<string, string>;
  /** The object's own metadata labels (a Deployment's, not its pods'); the same as labels for a Pod. */
  objectLabels: Record<string, string>;
  /** The pods' annotations (where the older AppArmor profiles are set). */
  annotations: Record<string, string>;
  role: WorkloadRole | undefined;
  namespace: string | undefined;
  containers: PodContainer[];
}

export function podView(type: string, props: PropertyRecord): PodView | undefined {
  const place = podSpecPlace(type, props);
  if (!place) return undefined;
  const spec = asRecord(at(props, ...place.spec)) ?? {};
  const objectLabels = stringMap(at(props, "metadata", "labels"));
  const labels = stringMap(at(props, ...place.labels));
  return {
    spec,
    labels,
    objectLabels,
    annotations: stringMap(at(props, ...place.labels.slice(0, -1), "annotations")),
    // The role may be stated on the object or on its pods.
    role: asWorkloadRole(labels["fundament.io/role"] ?? objectLabels["fundament.io/role"]),
    namespace: asString(at(props, "metadata", "namespace")),
    containers: [
      ...asRecords(spec["initContainers"]).map((container, index) => describe(container, "initContainers", index, "init")),
      ...asRecords(spec["containers"]).map((container, index) => describe(container, "containers", index, "main")),
      ...asRecords(spec["ephemeralContainers"]).map((container, index) => describe(container, "ephemeralContainers", index, "ephemeral")),
    ],
  };
}

function describe(container: PropertyRecord, list: string, index: number, kind: "init" | "main" | "ephemeral"): PodContainer {
  const name = asString(container["name"]);
  return {
    container,
    init: kind === "init",
    ephemeral: kind === "ephemeral",
    label: name === undefined ? `${list}[${index}]` : `${list}[${index}] "${name}"`,
  };
}

export function stringMap(value: unknown): Record<string, string> {
  const record = asRecord(value);
  if (!record) return {};
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(record)) {
    if (typeof item === "string") result[key] = item;
  }
  return result;
}

/** Kubernetes label-selector semantics: every matchLabels pair and every matchExpressions term must hold. */
/**
 * How selectors meant for a workload's pods are aimed: at them (`hit`), at the controller's own
 * metadata.labels instead (`misaimed`, the usual mistake: the API looks at the pods' labels), or
 * at neither. For the budgets, spreads and other objects that only work through the pods' labels.
 */
export function selectorAim<T>(candidates: readonly T[], selectorOf: (candidate: T) => unknown, pod: PodView): { hit: boolean; misaimed: T | undefined } {
  if (candidates.some((candidate) => selectorMatches(selectorOf(candidate), pod.labels))) return { hit: true, misaimed: undefined };
  return { hit: false, misaimed: candidates.find((candidate) => selectorMatches(selectorOf(candidate), pod.objectLabels)) };
}

export function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  const record = asRecord(selector);
  if (!record) return false;
  const matchLabels = stringMap(record["matchLabels"]);
  for (const [key, value] of Object.entries(matchLabels)) {
    if (labels[key] !== value) return false;
  }
  for (const expression of asRecords(record["matchExpressions"])) {
    const key = asString(expression["key"]) ?? "";
    const values = Array.isArray(expression["values"]) ? expression["values"].filter((v): v is string => typeof v === "string") : [];
    const present = Object.prototype.hasOwnProperty.call(labels, key);
    switch (asString(expression["operator"])) {
      case "In":
        if (!present || !values.includes(labels[key] ?? "")) return false;
        break;
      case "NotIn":
        if (present && values.includes(labels[key] ?? "")) return false;
        break;
      case "Exists":
        if (!present) return false;
        break;
      case "DoesNotExist":
        if (present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Container argv as the kubelet builds it (command, then args). */
export function containerArgv(container: PropertyRecord): string[] {
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);
  return [...strings(container["command"]), ...strings(container["args"])];
}
