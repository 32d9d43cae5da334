import * as k8s from "@pulumi/kubernetes";
import { zoneLabel } from "../runtime/kubernetes-pod";
import { INTERNAL_ZONES, Zone, ZONES } from "../runtime/workload";

type NetworkPolicySpec = k8s.types.input.networking.v1.NetworkPolicySpec;

export interface NamedPolicy {
  name: string;
  spec: NetworkPolicySpec;
}

/**
 * The zone rule on Kubernetes: deny everything in the namespace, then, per zone, admit traffic
 * between pods that carry that zone's label. Policies add up, so a pod in two zones reaches both.
 * Only `frontend` may leave the cluster, mirroring Docker, where backend and monitoring
 * networks are internal.
 */
export function zonePolicies(): NamedPolicy[] {
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
  ];
  for (const zone of ZONES) {
    const members = { matchLabels: { [zoneLabel(zone)]: "true" } };
    const egress: NetworkPolicySpec["egress"] = [{ to: [{ podSelector: members }] }];
    if (!INTERNAL_ZONES.includes(zone)) {
      egress.push({ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] } }] });
    }
    policies.push({
      name: `zone-${zone}`,
      spec: { podSelector: members, policyTypes: ["Ingress", "Egress"], ingress: [{ from: [{ podSelector: members }] }], egress },
    });
  }
  return policies;
}

export function zoneOfPolicy(name: string): Zone | undefined {
  return ZONES.find((zone) => name === `zone-${zone}`);
}
