import { beforeAll, describe, expect, it } from "vitest";
import { runStack, StackView } from "./stack-run";

/**
 * The DESIGN.md rule, checked as a matrix: workload A can reach workload B iff they share a
 * zone. Docker reachability is read from the containers' networks; Kubernetes reachability is
 * evaluated from the rendered NetworkPolicies with the API's semantics (a pod selected by any
 * policy of a direction is isolated in it; policies add up; ipBlocks never match pod traffic
 * here because they exclude the private ranges pods live in).
 */

type Labels = Record<string, string>;
interface Selector { matchLabels?: Labels }
interface Peer { podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: unknown }
interface PolicySpec { podSelector: Selector; policyTypes: string[]; ingress?: { from?: Peer[] }[]; egress?: { to?: Peer[]; ports?: unknown[] }[] }

const selects = (selector: Selector | undefined, labels: Labels) =>
  Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

const peerMatches = (peer: Peer, labels: Labels) => peer.ipBlock === undefined && peer.namespaceSelector === undefined && selects(peer.podSelector, labels);

function allowed(policies: PolicySpec[], direction: "Ingress" | "Egress", self: Labels, other: Labels): boolean {
  const selecting = policies.filter((p) => p.policyTypes.includes(direction) && selects(p.podSelector, self));
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    direction === "Ingress"
      ? (p.ingress ?? []).some((rule) => (rule.from ?? []).some((peer) => peerMatches(peer, other)))
      : (p.egress ?? []).some((rule) => (rule.to ?? []).some((peer) => peerMatches(peer, other))),
  );
}

function expectedMatrix(zones: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(zones).map(([a, za]) => [a, Object.entries(zones).filter(([b, zb]) => b !== a && zb.some((z) => za.includes(z))).map(([b]) => b).sort()]),
  );
}

describe("zone reachability", () => {
  let dev: StackView;
  let prod: StackView;
  beforeAll(async () => {
    dev = await runStack("dev");
    prod = await runStack("prod");
  });

  it("on Docker, equals the shared-zone rule", () => {
    const networks = Object.fromEntries(dev.all("docker:index/network:Network").map((n) => [dev.revealed(n).name as string, dev.revealed(n)]));
    const zonesOf: Record<string, string[]> = {};
    const networksOf: Record<string, string[]> = {};
    for (const container of dev.all("docker:index/container:Container")) {
      // A files carrier (never started, networkMode none) joins no network.
      const attached = ((dev.revealed(container).networksAdvanced as { name: string }[] | undefined) ?? []).map((n) => n.name);
      for (const name of attached) expect(networks[name], `${container.name} joins an unknown network ${name}`).toBeDefined();
      networksOf[container.name] = attached;
      zonesOf[container.name] = ((dev.revealed(container).labels as { label: string }[]) ?? []).filter((l) => l.label.startsWith("fundament.zone.")).map((l) => l.label.slice("fundament.zone.".length));
    }
    const reach = Object.fromEntries(
      Object.entries(networksOf).map(([a, na]) => [a, Object.entries(networksOf).filter(([b, nb]) => b !== a && nb.some((n) => na.includes(n))).map(([b]) => b).sort()]),
    );
    expect(Object.keys(reach).length).toBeGreaterThan(8);
    expect(reach).toEqual(expectedMatrix(zonesOf));
    // Spot checks a reader can verify by hand.
    expect(reach["postgres-exporter"]).toContain("postgres");
    expect(reach["postgres"]).not.toContain("minio-setup");
  });

  it("on Kubernetes, equals the shared-zone rule under the rendered NetworkPolicies", () => {
    const policies = prod.all("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => prod.revealed(p).spec as PolicySpec);
    const pods: Record<string, Labels> = {};
    for (const controller of prod.resources.filter((r) => ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"].includes(r.type))) {
      pods[controller.name] = (prod.revealed(controller).spec as { template: { metadata: { labels: Labels } } }).template.metadata.labels;
    }
    const zonesOf = Object.fromEntries(
      Object.entries(pods).map(([name, labels]) => [name, Object.keys(labels).filter((k) => k.startsWith("fundament.io/zone-")).map((k) => k.slice("fundament.io/zone-".length))]),
    );
    const reach = Object.fromEntries(
      Object.entries(pods).map(([a, la]) => [
        a,
        Object.entries(pods).filter(([b, lb]) => b !== a && allowed(policies, "Egress", la, lb) && allowed(policies, "Ingress", lb, la)).map(([b]) => b).sort(),
      ]),
    );
    expect(Object.keys(reach).length).toBeGreaterThan(8);
    expect(reach).toEqual(expectedMatrix(zonesOf));
    expect(reach["redis-exporter"]).toContain("redis");
  });

  it("on Kubernetes, a pod in no zone reaches nothing and nothing reaches it", () => {
    const policies = prod.all("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => prod.revealed(p).spec as PolicySpec);
    const stranger = { "app.kubernetes.io/name": "stranger" };
    const postgres = { "app.kubernetes.io/name": "postgres", "fundament.io/zone-backend": "true" };
    expect(allowed(policies, "Egress", stranger, postgres)).toBe(false);
    expect(allowed(policies, "Ingress", postgres, stranger)).toBe(false);
  });
});
