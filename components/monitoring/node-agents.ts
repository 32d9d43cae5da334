import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesRuntime } from "../runtime/kubernetes";
import { selectorLabels, zoneLabel } from "../runtime/kubernetes-pod";
import { PROMETHEUS_DISCOVERY_RULES, PROMETHEUS_SERVICE_ACCOUNT } from "./prometheus-access";

/** A per-node agent Prometheus scrapes: its workload name and metrics port. */
export interface NodeAgent {
  name: string;
  port: number;
}

export interface NodeAgentsArgs {
  environment: string;
  /** Where Prometheus runs (its ServiceAccount and pod). */
  platformNamespace: string;
  agents: NodeAgent[];
  provider?: k8s.Provider;
  /** Something that exists only once the platform namespace does (the policies below live there). */
  dependsOn?: pulumi.Resource[];
}

const PART_OF = { "app.kubernetes.io/part-of": "fundament" };

/** `<platform namespace>-node-agents`. */
export function nodeAgentsNamespace(platformNamespace: string): string {
  return `${platformNamespace}-node-agents`;
}

/**
 * A namespace of its own for agents that read the node (node-exporter): the platform namespace
 * enforces the baseline Pod Security Standard, which refuses every hostPath volume, so a
 * DaemonSet there would be created and its pods never admitted. This namespace enforces
 * "privileged" (nothing else allows a host path) and warns and audits at baseline, so each
 * admission still records the host paths. The policy pack judges the pods all the same: only the
 * images and read-only paths of policies/stack-config.ts pass no-host-path-volume.
 *
 * Reachability keeps the zone rule across the two namespaces: the platform namespace's monitoring
 * zone reaches each agent on its metrics port, allowed on both sides (an egress policy there, an
 * ingress policy here), and nothing else reaches it. The agents send nothing: default-deny both
 * ways. Prometheus lists the agents' pods through a Role here bound to its ServiceAccount.
 */
export class NodeAgents extends pulumi.ComponentResource {
  readonly namespace: string;
  /** Deploys into this namespace (DaemonSets: Workload.everyNode). */
  readonly runtime: KubernetesRuntime;

  constructor(name: string, args: NodeAgentsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:monitoring:NodeAgents", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const afterPlatform = { ...child, dependsOn: args.dependsOn };
    this.namespace = nodeAgentsNamespace(args.platformNamespace);
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: this.namespace,
          labels: {
            ...PART_OF,
            "pod-security.kubernetes.io/enforce": "privileged",
            "pod-security.kubernetes.io/warn": "baseline",
            "pod-security.kubernetes.io/audit": "baseline",
          },
        },
      },
      child,
    );
    const inAgents = { name: namespace.metadata.name };
    new k8s.networking.v1.NetworkPolicy(
      `${name}-default-deny`,
      { metadata: { name: "default-deny", namespace: inAgents.name, labels: PART_OF }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } },
      child,
    );
    const monitoringZone = { matchLabels: { [zoneLabel("monitoring")]: "true" } };
    for (const agent of args.agents) {
      new k8s.networking.v1.NetworkPolicy(
        `${name}-${agent.name}-from-monitoring`,
        {
          metadata: { name: `${agent.name}-from-monitoring`, namespace: inAgents.name, labels: PART_OF },
          spec: {
            podSelector: { matchLabels: selectorLabels(agent.name) },
            policyTypes: ["Ingress"],
            ingress: [
              {
                from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": args.platformNamespace } }, podSelector: monitoringZone }],
                ports: [{ protocol: "TCP", port: agent.port }],
              },
            ],
          },
        },
        child,
      );
    }
    // The senders' side: the zone policies let monitoring members send only inside their namespace.
    new k8s.networking.v1.NetworkPolicy(
      `${name}-monitoring-to-node-agents`,
      {
        metadata: { name: "monitoring-to-node-agents", namespace: args.platformNamespace, labels: PART_OF },
        spec: {
          podSelector: monitoringZone,
          policyTypes: ["Egress"],
          egress: args.agents.map((agent) => ({
            to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": this.namespace } }, podSelector: { matchLabels: selectorLabels(agent.name) } }],
            ports: [{ protocol: "TCP", port: agent.port }],
          })),
        },
      },
      afterPlatform,
    );
    const role = new k8s.rbac.v1.Role(
      `${name}-prometheus-discovery`,
      { metadata: { name: "prometheus-discovery", namespace: inAgents.name, labels: PART_OF }, rules: PROMETHEUS_DISCOVERY_RULES },
      child,
    );
    new k8s.rbac.v1.RoleBinding(
      `${name}-prometheus-discovery`,
      {
        metadata: { name: "prometheus-discovery", namespace: inAgents.name, labels: PART_OF },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: PROMETHEUS_SERVICE_ACCOUNT, namespace: args.platformNamespace }],
      },
      afterPlatform,
    );
    this.runtime = new KubernetesRuntime({ environment: args.environment, namespace: namespace.metadata.name, provider: args.provider });
    this.registerOutputs({ namespace: this.namespace });
  }
}
