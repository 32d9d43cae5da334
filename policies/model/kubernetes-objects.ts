import { asRecord, asRecords, asString, at, type PropertyRecord } from "./property-values";
import { asWorkloadRole, type WorkloadRole } from "./data-services";

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

/** Types that carry a pod template, and where in their spec it sits. */
const POD_SPEC_PATHS: Record<string, readonly string[]> = {
  [K8S_POD]: ["spec"],
  [K8S_DEPLOYMENT]: ["spec", "template", "spec"],
  [K8S_STATEFUL_SET]: ["spec", "template", "spec"],
  [K8S_DAEMON_SET]: ["spec", "template", "spec"],
  [K8S_REPLICA_SET]: ["spec", "template", "spec"],
  [K8S_JOB]: ["spec", "template", "spec"],
  [K8S_CRON_JOB]: ["spec", "jobTemplate", "spec", "template", "spec"],
};

const POD_LABEL_PATHS: Record<string, readonly string[]> = {
  [K8S_POD]: ["metadata", "labels"],
  [K8S_DEPLOYMENT]: ["spec", "template", "metadata", "labels"],
  [K8S_STATEFUL_SET]: ["spec", "template", "metadata", "labels"],
  [K8S_DAEMON_SET]: ["spec", "template", "metadata", "labels"],
  [K8S_REPLICA_SET]: ["spec", "template", "metadata", "labels"],
  [K8S_JOB]: ["spec", "template", "metadata", "labels"],
  [K8S_CRON_JOB]: ["spec", "jobTemplate", "spec", "template", "metadata", "labels"],
};

export const POD_CONTROLLER_TYPES: readonly string[] = Object.keys(POD_SPEC_PATHS);

/** Controllers that keep pods running (as opposed to run-to-completion jobs). */
export const LONG_RUNNING_TYPES: readonly string[] = [K8S_DEPLOYMENT, K8S_STATEFUL_SET, K8S_DAEMON_SET, K8S_REPLICA_SET, K8S_POD];

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
}

export interface PodView {
  spec: PropertyRecord;
  labels: Record<string, string>;
  role: WorkloadRole | undefined;
  namespace: string | undefined;
  containers: PodContainer[];
}

export function podView(type: string, props: PropertyRecord): PodView | undefined {
  const specPath = POD_SPEC_PATHS[type];
  const labelPath = POD_LABEL_PATHS[type];
  if (!specPath || !labelPath) return undefined;
  const spec = asRecord(at(props, ...specPath)) ?? {};
  const labels = { ...stringMap(at(props, "metadata", "labels")), ...stringMap(at(props, ...labelPath)) };
  return {
    spec,
    labels,
    role: asWorkloadRole(labels["fundament.io/role"]),
    namespace: asString(at(props, "metadata", "namespace")),
    containers: [
      ...asRecords(spec["initContainers"]).map((container, index) => describe(container, "initContainers", index, true)),
      ...asRecords(spec["containers"]).map((container, index) => describe(container, "containers", index, false)),
    ],
  };
}

function describe(container: PropertyRecord, list: string, index: number, init: boolean): PodContainer {
  const name = asString(container["name"]);
  return { container, init, label: name === undefined ? `${list}[${index}]` : `${list}[${index}] "${name}"` };
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
