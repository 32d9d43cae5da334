import { defineResourcePolicy, defineStackPolicy, type FundamentPolicy, type JudgedResource } from "../policy-definition";
import { asBoolean, asRecord, asString, at } from "../model/property-values";
import { DOCKER_CONTAINER, DOCKER_NETWORK, dockerContainerView } from "../model/docker-container";
import { K8S_NETWORK_POLICY, POD_CONTROLLER_TYPES, podView, selectorMatches } from "../model/kubernetes-objects";

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
      const policies = resources
        .filter((resource) => resource.type === K8S_NETWORK_POLICY)
        .map((resource) => ({
          namespace: asString(at(resource.props, "metadata", "namespace")) ?? "default",
          // An empty podSelector selects every pod in the namespace.
          selector: asRecord(at(resource.props, "spec", "podSelector")) ?? {},
        }));
      for (const resource of resources) {
        if (!POD_CONTROLLER_TYPES.includes(resource.type)) continue;
        const pod = podView(resource.type, resource.props);
        if (!pod) continue;
        const namespace = pod.namespace ?? "default";
        const selected = policies.some((policy) => policy.namespace === namespace && selectorMatches(policy.selector, pod.labels));
        if (!selected) {
          report(resource, `no NetworkPolicy in namespace "${namespace}" selects its pods, so they accept traffic from anywhere in the cluster`);
        }
      }
    },
  }),
];
