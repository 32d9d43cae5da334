import { asRecord, asRecords, asStrings, type PropertyRecord } from "./property-values";

/**
 * Grants that reach beyond what a Role lists: Kubernetes' "RBAC good practices" name them as the
 * privilege-escalation paths (kubernetes.io/docs/concepts/security/rbac-good-practices). Each is
 * matched by API group, resource and verb, so the same resource name in another group (an
 * `apps` rule naming `secrets` grants nothing) is not reported. Wildcards are left to
 * k8s-no-wildcard-rbac; a "*" here only widens a group, so `apiGroups: ["*"]` with `secrets` and
 * `get` is still reported.
 *
 * Creating workloads (pods, Jobs) is on the same list but not here: the gpu-jobs service creates
 * Jobs in its own namespace by design, and what such a pod may do is bounded by the namespace's
 * Pod Security admission and the pack's pod rules.
 */
interface EscalatingGrant {
  groups: readonly string[];
  resources: readonly string[];
  verbs: readonly string[];
  /** A named-object rule (resourceNames) is the documented least-privilege form of this grant. */
  narrowedByName: boolean;
  /** Escalates only for these object names (in a rule with resourceNames) and in this namespace; a ClusterRole reaches every namespace. */
  only?: { names: readonly string[]; namespace: string };
  why: string;
}

const CORE = "";
const RBAC = "rbac.authorization.k8s.io";

const ESCALATING_GRANTS: readonly EscalatingGrant[] = [
  {
    groups: [RBAC],
    resources: ["roles", "clusterroles"],
    verbs: ["escalate"],
    narrowedByName: false,
    why: "lets the subject write into a role permissions it does not hold",
  },
  {
    groups: [RBAC],
    resources: ["roles", "clusterroles"],
    verbs: ["bind"],
    narrowedByName: true,
    why: "lets the subject bind itself to any role, cluster-admin included",
  },
  {
    groups: [CORE, "authentication.k8s.io"],
    resources: ["users", "groups", "serviceaccounts", "uids", "userextras/scopes"],
    verbs: ["impersonate"],
    narrowedByName: false,
    why: "lets the subject act as another identity, system:masters included",
  },
  {
    groups: [CORE],
    resources: ["secrets"],
    verbs: ["get", "list", "watch"],
    narrowedByName: true,
    why: "reads every credential in scope, service-account tokens included (list and watch return the values)",
  },
  {
    // Before the websocket upgrade of exec required `create` (Kubernetes 1.31's
    // AuthorizePodWebsocketUpgradeCreatePermission), `get` sufficed for it.
    groups: [CORE],
    resources: ["pods/exec", "pods/attach"],
    verbs: ["create", "get"],
    narrowedByName: false,
    why: "runs commands in other pods, with their service accounts and mounted secrets",
  },
  {
    groups: [CORE],
    resources: ["pods/ephemeralcontainers"],
    verbs: ["update", "patch"],
    narrowedByName: false,
    why: "adds a container of the subject's choosing to a running pod",
  },
  {
    groups: [CORE],
    resources: ["serviceaccounts/token"],
    verbs: ["create"],
    narrowedByName: false,
    why: "mints tokens of other service accounts",
  },
  {
    groups: [CORE],
    resources: ["nodes/proxy"],
    verbs: ["get", "create", "update", "patch", "delete"],
    narrowedByName: false,
    why: "reaches the kubelet API, which runs commands in every pod of the node",
  },
  {
    // A PersistentVolume can be a hostPath of the node; a claim bound to it mounts it into any
    // pod, and the pod rules see only the claim.
    groups: [CORE],
    resources: ["persistentvolumes"],
    verbs: ["create", "update", "patch"],
    narrowedByName: false,
    why: "creates volumes of the node's own filesystem (hostPath) that any pod then mounts through a claim",
  },
  {
    groups: [CORE],
    resources: ["namespaces"],
    verbs: ["update", "patch"],
    narrowedByName: true,
    why: "rewrites a namespace's pod-security.kubernetes.io labels, switching Pod Security admission off there",
  },
  {
    groups: ["certificates.k8s.io"],
    resources: ["certificatesigningrequests/approval", "signers"],
    verbs: ["update", "patch", "approve"],
    narrowedByName: false,
    why: "approves client certificates, which can name any user or group",
  },
  {
    // EKS maps IAM roles to Kubernetes groups through kube-system's aws-auth ConfigMap: whoever
    // writes it can map their own role to system:masters.
    groups: [CORE],
    resources: ["configmaps"],
    verbs: ["create", "update", "patch"],
    narrowedByName: false,
    only: { names: ["aws-auth"], namespace: "kube-system" },
    why: "rewrites EKS's aws-auth ConfigMap in kube-system, which maps IAM roles to Kubernetes groups, system:masters included",
  },
  {
    groups: ["admissionregistration.k8s.io"],
    resources: ["mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies", "validatingadmissionpolicybindings"],
    verbs: ["create", "update", "patch", "delete"],
    narrowedByName: false,
    why: "changes or switches off the admission control every object passes",
  },
];

/**
 * A ClusterRole (bound cluster-wide it reaches every namespace) or a Role in the namespace, on all
 * objects or the named ones. A Role that names no namespace lands in the provider's default one,
 * which the pack cannot see: it is not reported.
 */
function reaches(props: PropertyRecord, clusterWide: boolean, names: readonly string[], only: { names: readonly string[]; namespace: string }): boolean {
  if (!clusterWide && asRecord(props["metadata"])?.["namespace"] !== only.namespace) return false;
  return names.length === 0 || names.some((name) => only.names.includes(name));
}

/** One problem per escalating grant a role's rules hold, naming the rule index, the grant and why it escalates. */
export function escalatingGrants(props: PropertyRecord, clusterWide: boolean): string[] {
  const problems: string[] = [];
  asRecords(props["rules"]).forEach((rule, index) => {
    const groups = asStrings(rule["apiGroups"]);
    const resources = asStrings(rule["resources"]);
    const verbs = asStrings(rule["verbs"]);
    const names = asStrings(rule["resourceNames"]);
    const named = names.length > 0;
    for (const grant of ESCALATING_GRANTS) {
      if (named && grant.narrowedByName) continue;
      if (grant.only && !reaches(props, clusterWide, names, grant.only)) continue;
      if (!groups.some((group) => group === "*" || grant.groups.includes(group))) continue;
      const grantedResources = resources.filter((resource) => grant.resources.includes(resource));
      const grantedVerbs = verbs.filter((verb) => grant.verbs.includes(verb));
      if (grantedResources.length === 0 || grantedVerbs.length === 0) continue;
      problems.push(`rules[${index}] grants ${grantedVerbs.join(", ")} on ${grantedResources.join(", ")}: it ${grant.why}`);
    }
  });
  return problems;
}

/** Subjects that stand for everyone, or everyone with any credential: a binding to them opens the role to the whole cluster or network. */
const EVERYONE: ReadonlyMap<string, string> = new Map([
  ["User:system:anonymous", "every unauthenticated request"],
  ["Group:system:unauthenticated", "every unauthenticated request"],
  ["Group:system:authenticated", "every identity the cluster knows, every service account of every namespace included"],
]);

/**
 * Who a subject stands for when it is a crowd: the fixed groups above, the groups of every service
 * account (of the cluster, or of one namespace), and a namespace's default service account, which
 * every pod there that names no account of its own runs as.
 */
function crowdOf(subject: PropertyRecord): string | undefined {
  const kind = String(subject["kind"]);
  const name = String(subject["name"]);
  const fixed = EVERYONE.get(`${kind}:${name}`);
  if (fixed) return fixed;
  if (kind === "Group" && name === "system:serviceaccounts") return "every service account of every namespace, so every pod of the cluster";
  if (kind === "Group" && name.startsWith("system:serviceaccounts:")) return `every service account of namespace ${name.slice("system:serviceaccounts:".length)}, so every pod there`;
  if (kind === "ServiceAccount" && name === "default") return `every pod of namespace ${String(subject["namespace"] ?? "(the binding's)")} that names no service account of its own`;
  return undefined;
}

/** One problem per binding subject that stands for everyone, or for every pod of a namespace or the cluster. */
export function everyoneSubjects(props: PropertyRecord): string[] {
  return asRecords(props["subjects"]).flatMap((subject, index) => {
    const who = crowdOf(subject);
    return who ? [`subjects[${index}] is ${String(subject["kind"])} ${String(subject["name"])}: the role is granted to ${who}`] : [];
  });
}
