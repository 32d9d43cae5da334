import { isDeepStrictEqual } from "node:util";
import { defineResourcePolicy, defineStackPolicy, type FundamentPolicy, type JudgedResource } from "../policy-definition";
import { asNumber, asRecord, asRecords, asString, asStrings, at, type PropertyRecord } from "../model/property-values";
import { imagePinProblem } from "../model/image-reference";
import { readIfKnown } from "../model/unknown-values";
import { escalatingGrants, everyoneSubjects } from "../model/rbac-grants";
import { DOCKER_CONTAINER, DOCKER_REMOTE_IMAGE } from "../model/docker-container";
import {
  K8S_CLUSTER_ROLE,
  stringMap,
  K8S_CLUSTER_ROLE_BINDING,
  K8S_POD,
  isKind,
  kubernetesKind,
  K8S_ROLE,
  K8S_ROLE_BINDING,
  LONG_RUNNING_SHAPE,
  LONG_RUNNING_TYPES,
  POD_SPEC_SHAPE,
  NAMESPACED_TYPES,
  POD_CONTROLLER_TYPES,
  podView,
  RBAC_BINDING_SHAPE,
  RBAC_ROLE_SHAPE,
  selectorAim,
  selectorMatches,
  type PodView,
} from "../model/kubernetes-objects";

/** A bare Pod with restartPolicy Never or OnFailure is a one-shot task, not a server. */
const PROBES = ["livenessProbe", "readinessProbe", "startupProbe"] as const;
const HOOKS = ["postStart", "preStop"] as const;

/** The probes' and lifecycle hooks' ports given by name (a number reaches whatever listens there). */
function namedProbePorts(container: PropertyRecord): { where: string; port: string }[] {
  const handlers = [
    ...PROBES.map((probe) => ({ where: probe, handler: asRecord(container[probe]) })),
    ...HOOKS.map((hook) => ({ where: `lifecycle.${hook}`, handler: asRecord(at(container, "lifecycle", hook)) })),
  ];
  return handlers.flatMap(({ where, handler }) =>
    (["httpGet", "tcpSocket"] as const).flatMap((action) => {
      const port = at(handler, action, "port");
      return typeof port === "string" && !/^\d+$/.test(port) ? [{ where: `${where}.${action}.port`, port }] : [];
    }),
  );
}

function runsToCompletion(type: string, pod: PodView): boolean {
  const restartPolicy = asString(pod.spec["restartPolicy"]);
  return type === K8S_POD && restartPolicy !== undefined && restartPolicy !== "Always";
}

interface Autoscaler {
  namespace: string;
  kind: string | undefined;
  name: string | undefined;
  minReplicas: number;
}

/** The stack's HorizontalPodAutoscalers, by what they scale. */
function autoscalersOf(resources: readonly JudgedResource[]): Autoscaler[] {
  return resources
    .filter((resource) => isKind(resource.type, "HorizontalPodAutoscaler"))
    .map((resource) => ({
      namespace: asString(at(resource.props, "metadata", "namespace")) ?? "default",
      kind: asString(at(resource.props, "spec", "scaleTargetRef", "kind")),
      name: asString(at(resource.props, "spec", "scaleTargetRef", "name")),
      // The API server's default when minReplicas is left out.
      minReplicas: asNumber(at(resource.props, "spec", "minReplicas")) ?? 1,
    }));
}

/** The HorizontalPodAutoscaler that scales a workload, if one does. */
function autoscalerOf(autoscalers: readonly Autoscaler[], workload: { resource: JudgedResource; kind: string; namespace: string }): Autoscaler | undefined {
  const name = asString(at(workload.resource.props, "metadata", "name"));
  return autoscalers.find((hpa) => hpa.namespace === workload.namespace && hpa.kind === workload.kind && name !== undefined && hpa.name === name);
}

/** An IntOrString budget field: a count, a percentage, or undefined when absent, malformed or unknown in a preview. */
function budgetAmount(value: unknown): { count: number } | { percent: number } | undefined {
  if (typeof value === "number" && Number.isInteger(value)) return { count: value };
  const percent = typeof value === "string" ? /^(\d+)%$/.exec(value) : null;
  return percent ? { percent: Number(percent[1]) } : undefined;
}

/** The stack's Deployments and StatefulSets (any API version) with their pods, in their namespace ("default" when unset). */
function replicatedWorkloads(resources: readonly JudgedResource[]): { resource: JudgedResource; kind: string; pod: PodView; namespace: string }[] {
  return resources.flatMap((resource) => {
    const kind = kubernetesKind(resource.type);
    if (kind !== "Deployment" && kind !== "StatefulSet") return [];
    const pod = podView(resource.type, resource.props);
    return pod ? [{ resource, kind, pod, namespace: pod.namespace ?? "default" }] : [];
  });
}

/**
 * The terms that spread a pod's replicas over a topology: anti-affinity (required or preferred)
 * and spread constraints, each named by its index in the list as written. A term without a
 * topologyKey spreads nothing.
 */
function replicaSpreads(spec: PropertyRecord): { field: string; selector: unknown }[] {
  const antiAffinity = asRecord(at(spec, "affinity", "podAntiAffinity")) ?? {};
  const terms = (list: unknown, field: string, termOf: (item: PropertyRecord) => PropertyRecord | undefined) =>
    asRecords(list).flatMap((item, index) => {
      const term = termOf(item);
      return term && (asString(term["topologyKey"]) ?? "") !== "" ? [{ field: `${field}[${index}]`, selector: term["labelSelector"] }] : [];
    });
  return [
    ...terms(antiAffinity["requiredDuringSchedulingIgnoredDuringExecution"], "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution", (term) => term),
    ...terms(antiAffinity["preferredDuringSchedulingIgnoredDuringExecution"], "affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution", (weighted) => asRecord(weighted["podAffinityTerm"])),
    ...terms(spec["topologySpreadConstraints"], "topologySpreadConstraints", (constraint) => constraint),
  ];
}

const RESOURCE_FIELDS = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"] as const;

export const kubernetesPolicies: FundamentPolicy[] = [
  defineResourcePolicy({
    name: "k8s-namespace-pod-security",
    description:
      "Namespaces must enforce the baseline or restricted Pod Security Standard (label pod-security.kubernetes.io/enforce): the API server then refuses a privileged pod there, whoever creates it and however (kubectl, a chart, a compromised controller), not only what this program deploys.",
    concern: "kubernetes-hygiene",
    // Medium: the pack already judges the pods this program creates; the label guards against
    // the ones it never sees.
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation:
      'Label the namespace pod-security.kubernetes.io/enforce: "restricted" (or "baseline"); a namespace of node agents that need host access is exempted by name with the reason.',
    types: ["kubernetes:core/v1:Namespace"],
    alsoJudges: { description: "Namespaces under any API version", matches: (type) => isKind(type, "Namespace") },
    validate: (resource, report) => {
      const enforce = stringMap(at(resource.props, "metadata", "labels"))["pod-security.kubernetes.io/enforce"];
      if (enforce === undefined) report("no pod-security.kubernetes.io/enforce label: the namespace admits privileged pods");
      else if (!["baseline", "restricted"].includes(enforce)) report(`pod-security.kubernetes.io/enforce is "${enforce}": the namespace admits privileged pods`);
    },
  }),
  defineResourcePolicy({
    name: "k8s-resource-requests-limits",
    description: "Every Kubernetes container and init container must set CPU and memory requests and limits.",
    concern: "kubernetes-hygiene",
    severity: "medium",
    enforcement: "mandatory",
    remediation: "Set resources.requests and resources.limits for cpu and memory (the Workload's resources give both).",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      for (const { container, label, ephemeral } of podView(resource.type, resource.props)?.containers ?? []) {
        // The API refuses resources on an ephemeral container: it shares the pod's.
        if (ephemeral) continue;
        const resources = asRecord(container["resources"]) ?? {};
        const missing = RESOURCE_FIELDS.filter((field) => {
          const [group, key] = field.split(".") as [string, string];
          const value = at(resources, group, key);
          return value === undefined || value === null || value === "" || value === 0 || value === "0";
        });
        if (missing.length > 0) report(`${label}: resources ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing`);
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-probes-required",
    description: "Long-running containers must have both a readiness and a liveness probe.",
    concern: "kubernetes-hygiene",
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Render the Workload's health.readiness and health.liveness as readinessProbe and livenessProbe.",
    types: LONG_RUNNING_TYPES,
    alsoJudges: LONG_RUNNING_SHAPE,
    validate: (resource, report) => {
      const pod = podView(resource.type, resource.props);
      if (!pod || runsToCompletion(resource.type, pod)) return;
      for (const { container, label, init, ephemeral } of pod.containers) {
        // Neither init nor ephemeral containers may have probes.
        if (init || ephemeral) continue;
        for (const probe of ["readinessProbe", "livenessProbe"]) {
          if (asRecord(container[probe]) === undefined) report(`${label}: ${probe} is missing`);
        }
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-distinct-probes",
    description: "Readiness and liveness probes must differ: an identical pair restarts pods that are only busy.",
    concern: "kubernetes-hygiene",
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Point liveness at a cheap self-check (/health/live) and readiness at the dependency check (/health/ready), or give liveness a longer failure threshold.",
    types: LONG_RUNNING_TYPES,
    alsoJudges: LONG_RUNNING_SHAPE,
    validate: (resource, report) => {
      for (const { container, label } of podView(resource.type, resource.props)?.containers ?? []) {
        const readiness = asRecord(container["readinessProbe"]);
        const liveness = asRecord(container["livenessProbe"]);
        if (readiness && liveness && isDeepStrictEqual(readiness, liveness)) {
          report(`${label}: readinessProbe and livenessProbe are identical`);
        }
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-probe-ports-resolve",
    description: "A probe or lifecycle hook that names its port must name a port of its own container: the kubelet resolves the name there only, and a probe that cannot be resolved fails.",
    concern: "kubernetes-hygiene",
    // High: the API server accepts the name, then a readiness probe never passes (the rollout
    // hangs and the Service has no endpoints) and a liveness probe restarts the container forever.
    severity: "high",
    enforcement: "mandatory",
    remediation: "Name the port in the container's ports (name: http, containerPort: 8080) or give the probe the number.",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      for (const { container, label } of podView(resource.type, resource.props)?.containers ?? []) {
        const names = new Set(asRecords(container["ports"]).flatMap((port) => asString(port["name"]) ?? []));
        for (const { where, port } of namedProbePorts(container)) {
          if (!names.has(port)) report(`${label}: ${where} names port "${port}", which is not one of the container's ports${names.size > 0 ? ` (${[...names].join(", ")})` : ""}`);
        }
      }
    },
  }),
  defineResourcePolicy({
    name: "pinned-image-tags",
    description: "Images must be pinned to a version tag or digest, never latest or untagged.",
    concern: "kubernetes-hygiene",
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Use an explicit version tag (postgres:15.6-bookworm) or a digest (@sha256:...), set per stack in config.",
    types: [DOCKER_CONTAINER, DOCKER_REMOTE_IMAGE, ...POD_CONTROLLER_TYPES],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      if (resource.type === DOCKER_CONTAINER || resource.type === DOCKER_REMOTE_IMAGE) {
        const field = resource.type === DOCKER_CONTAINER ? "image" : "name";
        const image = asString(resource.props[field]);
        const problem = image === undefined ? undefined : imagePinProblem(image);
        if (image !== undefined && problem) report(`${field} "${image}" ${problem}`);
        return;
      }
      for (const { container, label } of podView(resource.type, resource.props)?.containers ?? []) {
        const image = asString(container["image"]);
        const problem = image === undefined ? undefined : imagePinProblem(image);
        if (image !== undefined && problem) report(`${label}: image "${image}" ${problem}`);
      }
    },
  }),
  defineStackPolicy({
    name: "k8s-pod-disruption-budget",
    description: "Every Deployment and StatefulSet must be covered by a PodDisruptionBudget whose selector matches its pods' labels.",
    concern: "kubernetes-hygiene",
    severity: "low",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Render a PodDisruptionBudget (maxUnavailable: 1) whose selector matches the workload's pod template labels (not the Deployment's own labels), in the same namespace.",
    validate: (resources, report) => {
      const budgets = resources
        .filter((resource) => isKind(resource.type, "PodDisruptionBudget"))
        .map((resource) => ({
          name: resource.name,
          namespace: asString(at(resource.props, "metadata", "namespace")) ?? "default",
          selector: at(resource.props, "spec", "selector"),
        }));
      for (const { resource, kind, pod, namespace } of replicatedWorkloads(resources)) {
        const inNamespace = budgets.filter((budget) => budget.namespace === namespace);
        // The eviction API looks at the pods' labels; a budget that matches only the controller's own is no budget.
        const { hit, misaimed } = selectorAim(inNamespace, (budget) => budget.selector, pod);
        if (hit) continue;
        if (misaimed) {
          report(resource, `PodDisruptionBudget ${misaimed.name} selects the ${kind}'s own metadata.labels, not its pod template's labels, so it protects none of its pods from a node drain`);
        } else {
          report(resource, `no PodDisruptionBudget in namespace "${namespace}" selects its pods, so a node drain may evict them all at once`);
        }
      }
    },
  }),
  defineStackPolicy({
    name: "k8s-disruption-budget-allows-eviction",
    description:
      "A PodDisruptionBudget must allow at least one eviction: maxUnavailable 0, minAvailable 100%, or a minAvailable that reaches the replicas of a workload it covers makes every node drain (a cluster or node group upgrade, a scale-down) wait forever.",
    concern: "kubernetes-hygiene",
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Use maxUnavailable: 1 (or a percentage that rounds up to at least one pod); where one pod must stay up, run at least two replicas and keep minAvailable below their number.",
    validate: (resources, report) => {
      const autoscalers = autoscalersOf(resources);
      const workloads = replicatedWorkloads(resources);
      for (const budget of resources.filter((resource) => isKind(resource.type, "PodDisruptionBudget"))) {
        const spec = asRecord(budget.props["spec"]) ?? {};
        const maxUnavailable = budgetAmount(spec["maxUnavailable"]);
        const minAvailable = budgetAmount(spec["minAvailable"]);
        // The eviction API rounds maxUnavailable percentages up, so only zero forbids every eviction.
        if (maxUnavailable && ("count" in maxUnavailable ? maxUnavailable.count : maxUnavailable.percent) === 0) {
          report(budget, "spec.maxUnavailable is 0: the eviction API refuses every eviction of its pods, so a node drain waits forever");
          continue;
        }
        if (!minAvailable) continue;
        if ("percent" in minAvailable && minAvailable.percent >= 100) {
          report(budget, `spec.minAvailable is ${minAvailable.percent}%: the eviction API refuses every eviction of its pods, so a node drain waits forever`);
          continue;
        }
        const namespace = asString(at(budget.props, "metadata", "namespace")) ?? "default";
        for (const workload of workloads) {
          if (workload.namespace !== namespace || !selectorMatches(spec["selector"], workload.pod.labels)) continue;
          // With an autoscaler the workload may run at its minReplicas; the budget must allow an eviction there.
          const scaledBy = autoscalerOf(autoscalers, workload);
          const replicas = scaledBy ? scaledBy.minReplicas : (asNumber(at(workload.resource.props, "spec", "replicas")) ?? 1);
          // minAvailable percentages round up: 90% of 3 pods is 3.
          const kept = "count" in minAvailable ? minAvailable.count : Math.ceil((minAvailable.percent * replicas) / 100);
          if (kept < replicas) continue;
          const name = asString(at(workload.resource.props, "metadata", "name")) ?? workload.resource.name;
          const counted = scaledBy ? `its HorizontalPodAutoscaler's minReplicas of ${replicas}` : `its ${replicas} replica${replicas === 1 ? "" : "s"}`;
          const asked = "count" in minAvailable ? `${minAvailable.count}` : `${minAvailable.percent}% (${kept} pods, rounded up)`;
          report(budget, `spec.minAvailable ${asked} keeps every pod of ${workload.kind} ${name} (${counted}) available, so no pod of it can be evicted and a node drain waits forever`);
        }
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-disruption-budget-evicts-unhealthy",
    description:
      "A PodDisruptionBudget must let pods that run but are not ready be evicted (unhealthyPodEvictionPolicy: AlwaysAllow): under the default IfHealthyBudget, a workload whose pods are failing holds every node drain until they recover, and those pods serve nothing meanwhile.",
    concern: "kubernetes-hygiene",
    severity: "low",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation:
      'Set spec.unhealthyPodEvictionPolicy: "AlwaysAllow" (policy/v1, served since Kubernetes 1.26); the budget still guards the ready pods. A workload whose not-ready pods must not be moved (a member that is still catching up) gets an exemption that says so.',
    types: ["kubernetes:policy/v1:PodDisruptionBudget"],
    validate: (resource, report) => {
      const read = readIfKnown(() => at(resource.props, "spec", "unhealthyPodEvictionPolicy"));
      if (!read.known) return;
      const policy = asString(read.value);
      if (policy === "AlwaysAllow") return;
      report(
        policy === undefined
          ? "spec.unhealthyPodEvictionPolicy is not set, so IfHealthyBudget applies: while its pods fail their readiness, a node drain waits for them"
          : `spec.unhealthyPodEvictionPolicy is ${policy}: while its pods fail their readiness, a node drain waits for them`,
      );
    },
  }),
  defineStackPolicy({
    name: "k8s-replicas-spread",
    description: "A Deployment or StatefulSet that runs more than one replica (spec.replicas, or the minReplicas of the HorizontalPodAutoscaler that scales it) must spread them: podAntiAffinity or topologySpreadConstraints selecting its own pods.",
    concern: "kubernetes-hygiene",
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Add topologySpreadConstraints (or a podAntiAffinity term) on kubernetes.io/hostname whose labelSelector matches the pod template's labels.",
    validate: (resources, report) => {
      const autoscalers = autoscalersOf(resources);
      for (const workload of replicatedWorkloads(resources)) {
        const { resource, kind, pod } = workload;
        const scaledBy = autoscalerOf(autoscalers, workload);
        const declared = asNumber(at(resource.props, "spec", "replicas")) ?? 1;
        const replicas = Math.max(declared, scaledBy?.minReplicas ?? 0);
        if (replicas < 2) continue;
        const counted = replicas > declared ? `at least ${replicas} replicas (its HorizontalPodAutoscaler's minReplicas)` : `${replicas} replicas`;
        const spreads = replicaSpreads(pod.spec);
        const { hit, misaimed } = selectorAim(spreads, (spread) => spread.selector, pod);
        if (hit) continue;
        if (misaimed) report(resource, `${misaimed.field}'s labelSelector selects the ${kind}'s own metadata.labels, not its pods' labels, so it spreads none of its ${counted}`);
        else if (spreads.length > 0) report(resource, `${spreads[0]!.field}'s labelSelector selects none of its pods, so its ${counted} may share one node`);
        else report(resource, `${counted} and no podAntiAffinity or topologySpreadConstraints: they may all land on one node, and its loss takes them all`);
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-no-default-namespace",
    description: "Namespaced Kubernetes objects must name a namespace other than default.",
    concern: "kubernetes-hygiene",
    severity: "low",
    enforcement: "mandatory",
    remediation: "Set metadata.namespace to the platform's namespace, where default-deny NetworkPolicies apply.",
    types: NAMESPACED_TYPES,
    validate: (resource, report) => {
      const namespace = asString(at(resource.props, "metadata", "namespace"));
      if (namespace === undefined || namespace === "") report("metadata.namespace is missing, so the object lands in the provider's default namespace");
      else if (namespace === "default") report('metadata.namespace is "default"');
    },
  }),
  defineResourcePolicy({
    name: "k8s-no-cluster-admin-binding",
    description: "No subject may be bound to the cluster-admin role.",
    concern: "kubernetes-hygiene",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Bind a Role that grants only the verbs and resources the subject uses.",
    types: [K8S_CLUSTER_ROLE_BINDING, K8S_ROLE_BINDING],
    alsoJudges: RBAC_BINDING_SHAPE,
    validate: (resource, report) => {
      if (asString(at(resource.props, "roleRef", "name")) === "cluster-admin") {
        report("roleRef names cluster-admin: the subjects get every permission in the cluster");
      }
    },
  }),
  defineResourcePolicy({
    name: "k8s-no-wildcard-rbac",
    description: "Roles must not grant wildcard verbs or resources.",
    concern: "kubernetes-hygiene",
    severity: "high",
    enforcement: "mandatory",
    remediation: "List the verbs (get, list, watch, ...) and resources the subject uses.",
    types: [K8S_ROLE, K8S_CLUSTER_ROLE],
    alsoJudges: RBAC_ROLE_SHAPE,
    validate: (resource, report) => {
      asRecords(resource.props["rules"]).forEach((rule, index) => {
        for (const field of ["verbs", "resources", "apiGroups"]) {
          if (asStrings(rule[field]).includes("*")) report(`rules[${index}].${field} contains "*"`);
        }
      });
    },
  }),
  defineResourcePolicy({
    name: "k8s-no-escalating-rbac",
    description: "Roles must not grant a path to more than they list: escalate or bind on roles, impersonate, reading secrets, exec or attach into pods, minting tokens, nodes/proxy, creating PersistentVolumes, relabelling namespaces, approving certificates, admission webhooks, writing EKS's aws-auth ConfigMap.",
    concern: "kubernetes-hygiene",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Grant what the subject uses: name the few objects with resourceNames (a Secret to read, a role to bind), mount a Secret as a file instead of reading it through the API, and leave exec, impersonation and webhooks to cluster administrators.",
    types: [K8S_ROLE, K8S_CLUSTER_ROLE],
    alsoJudges: RBAC_ROLE_SHAPE,
    validate: (resource, report) => {
      for (const problem of escalatingGrants(resource.props, isKind(resource.type, "ClusterRole", "ClusterRolePatch"))) report(problem);
    },
  }),
  defineResourcePolicy({
    name: "k8s-no-binding-to-everyone",
    description: "No RoleBinding or ClusterRoleBinding may name a crowd as a subject: system:anonymous, system:unauthenticated, system:authenticated, every service account (system:serviceaccounts, or those of a namespace), or a namespace's default service account.",
    concern: "kubernetes-hygiene",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Bind the role to the service account or group that uses it: a workload that calls the API gets a ServiceAccount of its own.",
    types: [K8S_CLUSTER_ROLE_BINDING, K8S_ROLE_BINDING],
    alsoJudges: RBAC_BINDING_SHAPE,
    validate: (resource, report) => {
      for (const problem of everyoneSubjects(resource.props)) report(problem);
    },
  }),
];
