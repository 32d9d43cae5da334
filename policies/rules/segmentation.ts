import { defineResourcePolicy, defineStackPolicy, type FundamentPolicy, type JudgedResource } from "../policy-definition";
import { asArray, asBoolean, asRecord, asString, asStrings, at } from "../model/property-values";
import { DOCKER_CONTAINER, DOCKER_NETWORK, dockerContainerView } from "../model/docker-container";
import { isKind, podView, selectorMatches, type PodView } from "../model/kubernetes-objects";

/** A container may name a network by its name or by the resource's id; both resolve to the resource. */
function networkIndex(resources: readonly JudgedResource[]): Map<string, JudgedResource> {
  const index = new Map<string, JudgedResource>();
  for (const resource of resources) {
    if (resource.type !== DOCKER_NETWORK) continue;
    index.set(resource.name, resource);
    const name = asString(resource.props["name"]);
    if (name !== undefined) index.set(name, resource);
  }
  return index;
}

export const segmentationPolicies: FundamentPolicy[] = [
  defineStackPolicy({
    name: "data-not-on-gateway-network",
    description: "Data containers must not share a non-internal Docker network with the gateway.",
    concern: "segmentation",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Keep data containers on the internal backend network only; the gateway reaches services, which reach data.",
    validate: (resources, report) => {
      const networks = networkIndex(resources);
      const containers = resources
        .filter((resource) => resource.type === DOCKER_CONTAINER)
        .map((resource) => ({ resource, view: dockerContainerView(resource.props) }));
      const gateways = containers.filter(({ view }) => view.isGateway);
      for (const { resource, view } of containers) {
        if (!view.isData) continue;
        for (const network of view.networks) {
          const gateway = gateways.find((candidate) => candidate.view.networks.includes(network));
          if (!gateway) continue;
          const definition = networks.get(network);
          if (definition && asBoolean(definition.props["internal"]) === true) continue;
          const why = definition ? "is not internal" : "is not declared in the stack, so it cannot be shown to be internal";
          report(resource, `networksAdvanced: network "${network}" is shared with the gateway (${gateway.resource.name}) and ${why}`);
        }
      }
    },
  }),
  defineResourcePolicy({
    name: "no-default-bridge-network",
    description: "Docker containers must join named zone networks instead of Docker's shared default bridge.",
    concern: "segmentation",
    severity: "medium",
    enforcement: "mandatory",
    remediation: "Attach the container to its zone networks with networksAdvanced (one docker.Network per zone).",
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const view = dockerContainerView(resource.props);
      const mode = view.networkMode;
      if (view.networks.length > 0 || (mode !== undefined && mode !== "bridge" && mode !== "default")) return;
      report("networksAdvanced is empty, so the container sits on Docker's default bridge with every other unattached container");
    },
  }),
  defineStackPolicy({
    name: "workload-selected-by-network-policy",
    description: "Every Kubernetes workload's pods must be selected by a NetworkPolicy in their namespace.",
    concern: "segmentation",
    severity: "high",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Add the workload to a zone (label fundament.io/zone-<zone>: \"true\") covered by the namespace's default-deny and zone NetworkPolicies.",
    validate: (resources, report) => {
      const policies = networkPolicies(resources);
      for (const { resource, pod, namespace } of workloads(resources)) {
        if (!policies.some((policy) => selects(policy, namespace, pod))) {
          report(resource, `no NetworkPolicy in namespace "${namespace}" selects its pods, so they accept traffic from anywhere in the cluster`);
        }
      }
    },
  }),
  defineStackPolicy({
    name: "network-policy-both-directions",
    description:
      "A workload a NetworkPolicy selects must be isolated for both ingress and egress, not one direction only, and no policy selecting it may admit every peer on every port in a direction (a rule `{}`, every namespace's pods, or 0.0.0.0/0, without ports).",
    concern: "segmentation",
    // As high as having no policy at all: the open direction is fully open (an ingress-only pod
    // reaches the node's metadata endpoint and the internet; an egress-only one takes any caller).
    severity: "high",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation:
      'Select the pods with a policy of each type: a namespace default-deny with policyTypes: ["Ingress", "Egress"] and no rules, then the zone policies that allow what each direction needs.',
    validate: (resources, report) => {
      const policies = networkPolicies(resources);
      for (const { resource, pod, namespace } of workloads(resources)) {
        const selecting = policies.filter((policy) => selects(policy, namespace, pod));
        // No policy at all is workload-selected-by-network-policy's finding.
        if (selecting.length === 0) continue;
        for (const direction of ["Ingress", "Egress"] as const) {
          const lower = direction.toLowerCase();
          if (!selecting.some((policy) => policy.types.has(direction))) {
            const other = direction === "Ingress" ? "egress" : "ingress";
            const names = selecting.map((policy) => policy.name).join(", ");
            report(resource, `the NetworkPolicies that select its pods in namespace "${namespace}" (${names}) all have policyTypes without ${direction}, so its ${lower} is not restricted at all; only its ${other} is`);
            continue;
          }
          // Policies add up: one rule that admits every peer on every port opens the direction whatever the others deny.
          const opener = selecting.find((policy) => policy.openRules[direction] !== undefined);
          if (opener) {
            report(resource, `NetworkPolicy ${opener.name} has ${lower}[${opener.openRules[direction]}] admitting every peer on every port, and policies add up, so its ${lower} is not restricted at all`);
          }
        }
      }
    },
  }),
];

interface NetworkPolicyView {
  name: string;
  namespace: string;
  selector: Record<string, unknown>;
  /** The directions the policy isolates, after the API server's defaulting of policyTypes. */
  types: ReadonlySet<"Ingress" | "Egress">;
  /** Per isolated direction, the index of its first rule that admits every peer on every port. */
  openRules: Partial<Record<"Ingress" | "Egress", number>>;
}

const WORLD_BLOCKS = new Set(["0.0.0.0/0", "::/0"]);

/**
 * A rule that admits anything: no peers and no ports (`{}`), or no ports and a peer that is the
 * whole address space without exceptions or every namespace (`namespaceSelector: {}`, which any
 * pod of the cluster, a compromised one included, matches). A rule with ports, or with narrower
 * peers, restricts.
 */
function admitsEverything(rule: Record<string, unknown>, peersField: "from" | "to"): boolean {
  if (asArray(rule["ports"]).length > 0) return false;
  const peers = asArray(rule[peersField]);
  if (peers.length === 0) return true;
  return peers.some((peer) => {
    const block = asRecord(asRecord(peer)?.["ipBlock"]);
    if (block !== undefined) return WORLD_BLOCKS.has(asString(block["cidr"]) ?? "") && asArray(block["except"]).length === 0;
    // namespaceSelector {} with no pod selector (or an empty one): every pod of every namespace.
    const namespaces = asRecord(asRecord(peer)?.["namespaceSelector"]);
    const pods = asRecord(asRecord(peer)?.["podSelector"]);
    return namespaces !== undefined && isEmptySelector(namespaces) && (pods === undefined || isEmptySelector(pods));
  });
}

function isEmptySelector(selector: Record<string, unknown>): boolean {
  return Object.keys(asRecord(selector["matchLabels"]) ?? {}).length === 0 && asArray(selector["matchExpressions"]).length === 0;
}

function openRules(spec: Record<string, unknown>, types: ReadonlySet<"Ingress" | "Egress">): NetworkPolicyView["openRules"] {
  const open: NetworkPolicyView["openRules"] = {};
  for (const [direction, field, peers] of [["Ingress", "ingress", "from"], ["Egress", "egress", "to"]] as const) {
    // Rules of a direction the policy does not list are ignored by the API server.
    if (!types.has(direction)) continue;
    const index = asArray(spec[field]).findIndex((rule) => admitsEverything(asRecord(rule) ?? {}, peers));
    if (index >= 0) open[direction] = index;
  }
  return open;
}

/**
 * The API server fills in an omitted (or empty) policyTypes: Ingress always, Egress only when
 * the policy has egress rules. Listed types stand as written: a type listed with no rules for it
 * denies that direction, and rules of an unlisted type are ignored.
 */
export function effectivePolicyTypes(spec: Record<string, unknown>): Set<"Ingress" | "Egress"> {
  const listed = asStrings(spec["policyTypes"]).filter((type): type is "Ingress" | "Egress" => type === "Ingress" || type === "Egress");
  if (asStrings(spec["policyTypes"]).length > 0) return new Set(listed);
  return new Set(asArray(spec["egress"]).length > 0 ? ["Ingress", "Egress"] : ["Ingress"]);
}

function networkPolicies(resources: readonly JudgedResource[]): NetworkPolicyView[] {
  return resources
    .filter((resource) => isKind(resource.type, "NetworkPolicy"))
    .map((resource) => {
      const spec = asRecord(resource.props["spec"]) ?? {};
      const types = effectivePolicyTypes(spec);
      return {
        name: asString(at(resource.props, "metadata", "name")) ?? resource.name,
        namespace: asString(at(resource.props, "metadata", "namespace")) ?? "default",
        // An empty podSelector selects every pod in the namespace.
        selector: asRecord(spec["podSelector"]) ?? {},
        types,
        openRules: openRules(spec, types),
      };
    });
}

function selects(policy: NetworkPolicyView, namespace: string, pod: PodView): boolean {
  return policy.namespace === namespace && selectorMatches(policy.selector, pod.labels);
}

function workloads(resources: readonly JudgedResource[]): { resource: JudgedResource; pod: PodView; namespace: string }[] {
  return resources.flatMap((resource) => {
    // A PodTemplate only describes pods; nothing runs it.
    if (isKind(resource.type, "PodTemplate")) return [];
    const pod = podView(resource.type, resource.props);
    return pod ? [{ resource, pod, namespace: pod.namespace ?? "default" }] : [];
  });
}
