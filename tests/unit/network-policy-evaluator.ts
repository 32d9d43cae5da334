/**
 * NetworkPolicy semantics as the Kubernetes API defines them (networking.k8s.io/v1), for the
 * zone matrix: which connections from one pod to another pod's port the policies of a cluster
 * admit. No CNI here; this is the specification a conforming CNI enforces:
 * - a pod is isolated for a direction when any policy in its namespace selects it with that
 *   policy type; an isolated pod admits only what some selecting policy's rule allows, and
 *   policies add up (there is no deny rule);
 * - policyTypes defaults to ["Ingress"], plus "Egress" when the policy has egress rules;
 * - a rule with no peers (from/to absent or empty) matches every peer, with no ports every port;
 * - a peer with only podSelector means pods of the policy's own namespace; with only
 *   namespaceSelector, every pod of the selected namespaces; with both, the selected pods of
 *   the selected namespaces; ipBlock matches the peer's IP (inside cidr, outside every except);
 * - a port is a number or a named container port of the destination pod, protocol TCP unless
 *   stated, optionally a range up to endPort;
 * - a connection needs the sender's egress and the receiver's ingress to admit it.
 */

export type Labels = Record<string, string>;

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

export interface PolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface NetworkPolicy {
  namespace: string;
  spec: {
    podSelector: LabelSelector;
    policyTypes?: string[];
    ingress?: { from?: PolicyPeer[]; ports?: PolicyPort[] }[];
    egress?: { to?: PolicyPeer[]; ports?: PolicyPort[] }[];
  };
}

export interface Pod {
  name: string;
  namespace: string;
  labels: Labels;
  ip: string;
  /** Container ports by number, with their names (named ports in policies resolve to these). */
  ports: { port: number; name?: string }[];
}

export interface Cluster {
  /** Namespace labels; the API server sets kubernetes.io/metadata.name on every namespace. */
  namespaces: Record<string, Labels>;
  policies: NetworkPolicy[];
}

export function selectorMatches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpression = (selector.matchExpressions ?? []).every((expression) => {
    const has = Object.prototype.hasOwnProperty.call(labels, expression.key);
    switch (expression.operator) {
      case "In":
        return has && (expression.values ?? []).includes(labels[expression.key]);
      case "NotIn":
        return !has || !(expression.values ?? []).includes(labels[expression.key]);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
    }
  });
  return byLabel && byExpression;
}

function ipToNumber(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const length = Number(bits);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return ((ipToNumber(ip) & mask) >>> 0) === ((ipToNumber(base) & mask) >>> 0);
}

function policyTypes(policy: NetworkPolicy): string[] {
  if (policy.spec.policyTypes && policy.spec.policyTypes.length > 0) return policy.spec.policyTypes;
  return policy.spec.egress && policy.spec.egress.length > 0 ? ["Ingress", "Egress"] : ["Ingress"];
}

function peerMatches(peer: PolicyPeer, policyNamespace: string, other: Pod, cluster: Cluster): boolean {
  if (peer.ipBlock) return inCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((cidr) => inCidr(other.ip, cidr));
  const namespaceOk = peer.namespaceSelector
    ? selectorMatches(peer.namespaceSelector, cluster.namespaces[other.namespace] ?? {})
    : other.namespace === policyNamespace;
  return namespaceOk && selectorMatches(peer.podSelector, other.labels);
}

function portMatches(ports: PolicyPort[] | undefined, destination: Pod, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((entry) => {
    if ((entry.protocol ?? "TCP") !== protocol) return false;
    if (entry.port === undefined) return true;
    if (typeof entry.port === "string") return destination.ports.some((p) => p.name === entry.port && p.port === port);
    return entry.endPort !== undefined ? port >= entry.port && port <= entry.endPort : port === entry.port;
  });
}

function admits(cluster: Cluster, direction: "Ingress" | "Egress", self: Pod, other: Pod, destination: Pod, port: number, protocol: string): boolean {
  const selecting = cluster.policies.filter((p) => p.namespace === self.namespace && policyTypes(p).includes(direction) && selectorMatches(p.spec.podSelector, self.labels));
  if (selecting.length === 0) return true;
  return selecting.some((policy) => {
    const rules = direction === "Ingress" ? (policy.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })) : (policy.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
    return rules.some((rule) => (!rule.peers || rule.peers.length === 0 || rule.peers.some((peer) => peerMatches(peer, policy.namespace, other, cluster))) && portMatches(rule.ports, destination, port, protocol));
  });
}

/** Whether a connection (TCP unless stated) from `client` to `server`:`port` is admitted. */
export function connectionAllowed(cluster: Cluster, client: Pod, server: Pod, port: number, protocol = "TCP"): boolean {
  return admits(cluster, "Egress", client, server, server, port, protocol) && admits(cluster, "Ingress", server, client, server, port, protocol);
}
