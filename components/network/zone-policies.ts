import * as k8s from "@pulumi/kubernetes";
import { KUBERNETES_API_LABEL, selectorLabels, zoneLabel } from "../runtime/kubernetes-pod";
import { HEALTH_CHECKER, INTERNAL_ZONES, portsByZone, portTransports, WorkloadPort, Zone, ZONES } from "../runtime/workload";

type NetworkPolicySpec = k8s.types.input.networking.v1.NetworkPolicySpec;

export interface NamedPolicy {
  name: string;
  spec: NetworkPolicySpec;
}

/**
 * Where the Kubernetes API server answers for pods. An EKS cluster the stack builds: its private
 * endpoint's network interfaces (in the VPC) and the `kubernetes` Service's address (in the
 * service range), on 443. A cluster someone else runs: its addresses are unknown here, so any
 * address on the two ports API servers listen on.
 */
export interface ApiServerReach {
  cidrs: string[];
  ports: number[];
}

export const ANY_API_SERVER: ApiServerReach = { cidrs: ["0.0.0.0/0"], ports: [443, 6443] };

/**
 * The zone rule on Kubernetes: deny everything in the namespace, then, per zone, let members
 * send to each other (egress); what a member accepts, and on which ports, is its own ingress
 * policy (workloadIngressPolicy). Policies add up, so a pod in two zones reaches both. Only
 * `frontend` may leave the cluster, mirroring Docker, where backend and monitoring networks
 * are internal.
 */
export function zonePolicies(apiServer: ApiServerReach = ANY_API_SERVER): NamedPolicy[] {
  const policies: NamedPolicy[] = [
    { name: "default-deny", spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] } },
    {
      // Every pod resolves Service names; without this, default-deny breaks DNS.
      name: "allow-dns",
      spec: {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [
          {
            to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
            ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
          },
        ],
      },
    },
    {
      // Only pods that run as a ServiceAccount (gpu-jobs launching Jobs, Prometheus discovering
      // pods): the backend and monitoring zones may not leave the namespace otherwise, and the
      // API server's private addresses are outside what frontend may reach.
      name: "allow-kubernetes-api",
      spec: {
        podSelector: { matchLabels: { [KUBERNETES_API_LABEL]: "true" } },
        policyTypes: ["Egress"],
        egress: [{ to: apiServer.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: apiServer.ports.map((port) => ({ protocol: "TCP", port })) }],
      },
    },
  ];
  for (const zone of ZONES) {
    const members = { matchLabels: { [zoneLabel(zone)]: "true" } };
    const egress: NetworkPolicySpec["egress"] = [{ to: [{ podSelector: members }] }];
    if (!INTERNAL_ZONES.includes(zone)) {
      egress.push({ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] } }] });
    }
    policies.push({
      name: `zone-${zone}`,
      spec: { podSelector: members, policyTypes: ["Egress"], egress },
    });
  }
  return policies;
}

/**
 * What one workload accepts: per zone it is in, connections from that zone's members on the
 * ports it offers there (WorkloadPort.zones), nothing else. A workload with no ports (jobs)
 * gets none, and the namespace's default-deny keeps everything out of it.
 */
export function workloadIngressPolicy(workload: { name: string; zones: Zone[]; ports?: WorkloadPort[] }): NamedPolicy | undefined {
  const offered = portsByZone(workload);
  const ingress: NonNullable<NetworkPolicySpec["ingress"]> = ZONES.filter((zone) => offered[zone].length > 0).map((zone) => ({
    from: [{ podSelector: { matchLabels: { [zoneLabel(zone)]: "true" } } }],
    ports: offered[zone].flatMap((port) => portTransports(port).map((t) => ({ protocol: t.protocol, port: port.port }))),
  }));
  // A published port (only the gateway has one) takes connections from the load balancer, whose
  // addresses (or, with client address preservation, the clients') are not pods: any source. Inside
  // the cluster the senders' egress policies still decide, so the zone rule is unchanged there.
  // The health checker's pods reach the check port whatever zones it is offered in (zoneRuleAdmits);
  // their own egress policies keep that to the zones they share with the workload.
  const checked = (workload.ports ?? []).filter((port) => port.healthCheck === true);
  if (checked.length > 0) ingress.push({ from: [{ podSelector: { matchLabels: selectorLabels(HEALTH_CHECKER) } }], ports: checked.flatMap((port) => portTransports(port).map((t) => ({ protocol: t.protocol, port: port.port }))) });
  const published = (workload.ports ?? []).filter((port) => port.publish === "host");
  if (published.length > 0) ingress.push({ from: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: published.map((port) => ({ protocol: "TCP", port: port.port })) });
  if (ingress.length === 0) return undefined;
  return { name: `${workload.name}-ingress`, spec: { podSelector: { matchLabels: selectorLabels(workload.name) }, policyTypes: ["Ingress"], ingress } };
}

export function zoneOfPolicy(name: string): Zone | undefined {
  return ZONES.find((zone) => name === `zone-${zone}`);
}
