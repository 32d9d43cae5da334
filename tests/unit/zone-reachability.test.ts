import { beforeAll, describe, expect, it } from "vitest";
import { workloadIngressPolicy } from "../../components/network/zone-policies";
import { offeredZones, portsByZone, Zone, zoneRuleAdmits } from "../../components/runtime/workload";
import { Declared, runStackDeclaring } from "./declared-workloads";
import { Cluster, connectionAllowed, Labels, NetworkPolicy, Pod } from "./network-policy-evaluator";
import { StackView } from "./stack-run";

/**
 * The DESIGN.md rule, checked as a matrix on Kubernetes: a workload reaches another iff they
 * share a zone, and only on the ports the other offers in that zone. The expectation comes from
 * what the layers declared to the runtime; the answer comes from the NetworkPolicies the stack
 * renders, evaluated with the API's semantics (network-policy-evaluator.ts) for every pod the
 * stack makes: Deployments, StatefulSets, Jobs and CronJobs. Docker's side is measured on a
 * real engine (tests/engine/).
 */

const CONTROLLERS = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"];

/** Per-node agents in their own namespace (NodeAgents): reached from the monitoring zone, they send nothing themselves. */
const NODE_AGENTS = ["node-exporter"];

interface PodTemplate {
  metadata: { labels: Labels };
  spec: { containers: { ports?: { containerPort: number; name?: string }[] }[] };
}

function templateOf(type: string, spec: Record<string, unknown>): PodTemplate {
  if (type === "kubernetes:batch/v1:CronJob") return (spec.jobTemplate as { spec: { template: PodTemplate } }).spec.template;
  return spec.template as PodTemplate;
}

/** Every pod the stack makes, with an address taken from `podCidr` (a /16). */
function podsOf(stack: StackView, podCidr: string): Pod[] {
  const [a, b] = podCidr.split(".");
  return stack.resources
    .filter((r) => CONTROLLERS.includes(r.type))
    .map((controller, index) => {
      const inputs = stack.revealed(controller) as { metadata: { namespace: string }; spec: Record<string, unknown> };
      const template = templateOf(controller.type, inputs.spec);
      return {
        name: controller.name,
        namespace: inputs.metadata.namespace,
        labels: template.metadata.labels,
        ip: `${a}.${b}.${Math.floor((index + 10) / 250)}.${((index + 10) % 250) + 1}`,
        ports: template.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => ({ port: p.containerPort, name: p.name }))),
      };
    });
}

function clusterOf(stack: StackView): Cluster {
  const namespaces: Record<string, Labels> = {
    "kube-system": { "kubernetes.io/metadata.name": "kube-system" },
    default: { "kubernetes.io/metadata.name": "default" },
  };
  for (const namespace of stack.all("kubernetes:core/v1:Namespace")) {
    const metadata = stack.revealed(namespace).metadata as { name: string; labels?: Labels };
    namespaces[metadata.name] = { ...metadata.labels, "kubernetes.io/metadata.name": metadata.name };
  }
  const policies = stack.all("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => {
    const inputs = stack.revealed(p) as { metadata: { namespace: string }; spec: NetworkPolicy["spec"] };
    return { namespace: inputs.metadata.namespace, spec: inputs.spec };
  });
  return { namespaces, policies };
}

/** The rule, from the declarations alone (with its one exception, the health checker's check ports). */
function declaredReach(client: Declared, server: Declared, port: number): boolean {
  const declaredPort = server.ports.find((p) => p.port === port);
  if (!declaredPort) return false;
  return zoneRuleAdmits(client, server, declaredPort);
}

describe("zone reachability on Kubernetes, ports included", () => {
  let prod: StackView;
  let declared: Declared[];
  beforeAll(async () => {
    ({ view: prod, declared } = await runStackDeclaring("prod"));
  });

  const declaredOf = (name: string): Declared => {
    const found = declared.find((d) => d.name === name);
    if (!found) throw new Error(`no workload named ${name} was declared`);
    return found;
  };

  it.each(["10.0.0.0/16", "100.64.0.0/16"])("admits exactly the declared ports of shared zones, for every pod (pods in %s)", (podCidr) => {
    const cluster = clusterOf(prod);
    const pods = podsOf(prod, podCidr);
    const kinds = new Set(declared.map((d) => d.kind));
    expect(kinds).toEqual(new Set(["deploy", "run", "schedule"]));
    expect(pods.map((p) => p.name).sort()).toEqual(declared.map((d) => d.name).sort());
    const wrong: string[] = [];
    let checked = 0;
    for (const client of pods) {
      for (const server of pods) {
        if (client === server) continue;
        // Every declared port, and the container ports the pod spec lists (they must agree).
        const ports = new Set([...declaredOf(server.name).ports.map((p) => p.port), ...server.ports.map((p) => p.port)]);
        for (const port of ports) {
          checked++;
          const expected = !NODE_AGENTS.includes(client.name) && declaredReach(declaredOf(client.name), declaredOf(server.name), port);
          const actual = connectionAllowed(cluster, client, server, port);
          if (actual !== expected) wrong.push(`${client.name} -> ${server.name}:${port}: policies ${actual ? "admit" : "refuse"}, the rule says ${expected ? "admit" : "refuse"}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(250);
    expect(wrong).toEqual([]);
  });

  it("lets Consul reach the port each catalogued workload's check dials, and only Consul beyond the zone rule", () => {
    const cluster = clusterOf(prod);
    const pods = podsOf(prod, "10.0.0.0/16");
    const consul = pods.find((p) => p.name === "consul")!;
    const checked = declared.flatMap((d) => d.ports.filter((p) => p.healthCheck).map((port) => ({ workload: d, port })));
    // Every infrastructure workload with ports but Consul itself (the services register their own check).
    expect(checked.map((c) => c.workload.name)).toEqual(expect.arrayContaining(["postgres", "redis", "rabbitmq", "minio", "gateway", "jaeger", "prometheus"]));
    expect(checked.map((c) => c.workload.name)).not.toContain("consul");
    for (const { workload, port } of checked) {
      expect(zoneRuleAdmits(declaredOf("consul"), workload, port), `${workload.name}:${port.port}`).toBe(true);
      expect(connectionAllowed(cluster, consul, pods.find((p) => p.name === workload.name)!, port.port), `${workload.name}:${port.port}`).toBe(true);
    }
    // The exception opens the check ports offered to no zone to Consul alone.
    const prometheus = pods.find((p) => p.name === "prometheus")!;
    const gateway = pods.find((p) => p.name === "gateway")!;
    expect(connectionAllowed(cluster, prometheus, gateway, 8082)).toBe(false);
    expect(connectionAllowed(cluster, consul, gateway, 8082)).toBe(true);
  });

  it("lets the monitoring zone reach metrics and admin UI ports (and the gateway), never a data port", () => {
    const cluster = clusterOf(prod);
    const pods = podsOf(prod, "10.0.0.0/16");
    // The platform's namespace (the node agents have one of their own).
    const namespace = pods.find((p) => p.name === "prometheus")!.namespace;
    // What Prometheus will be: a pod in monitoring only.
    const scraper: Pod = { name: "scraper", namespace, labels: { "app.kubernetes.io/name": "scraper", "fundament.io/zone-monitoring": "true" }, ip: "10.0.9.9", ports: [] };
    const reached = pods.flatMap((server) => server.ports.filter((p) => connectionAllowed(cluster, scraper, server, p.port)).map((p) => `${server.name}:${p.port}`)).sort();
    expect(reached).toEqual(
      [
        "config:9464",
        "gpu-jobs:9464",
        "mongo-exporter:9216",
        "node-exporter:9100",
        "pgbouncer-exporter:9127",
        "postgres-exporter:9187",
        "rabbitmq:15692",
        "redis-exporter:9121",
        "users:9464",
        // MinIO serves metrics only on its API port (README, Zones).
        "minio:9000",
        // The monitoring workloads themselves: the APIs Grafana reads, Prometheus's scrape of
        // them, and Jaeger's OTLP receivers the services (members for their metrics) send to.
        "alertmanager:9093",
        "grafana:3000",
        "jaeger:16686",
        "jaeger:4317",
        "jaeger:4318",
        "jaeger:8888",
        "prometheus:9090",
        // Admin UIs are offered in monitoring only, where the gateway reaches them (README, Zones).
        "minio:9001",
        "rabbitmq:15671",
        // Consul's API: the gateway reads the catalogue and routes the UI, Prometheus scrapes /v1/agent/metrics.
        "consul:8501",
        // The gateway: its metrics, and its public entry points, which anyone outside reaches too.
        "gateway:8080",
        "gateway:8443",
        "gateway:9100",
      ].sort(),
    );
    const rabbitmq = pods.find((p) => p.name === "rabbitmq")!;
    expect(connectionAllowed(cluster, scraper, rabbitmq, 5671)).toBe(false);
  });

  it("keeps data ports in backend only", () => {
    const dataPorts = declared.filter((d) => ["postgres", "pgbouncer", "redis", "mongo"].includes(d.name)).flatMap((d) => d.ports.map((p) => `${d.name}:${p.name}=${offeredZones(d, p).join(",")}`));
    expect(dataPorts.sort()).toEqual(["mongo:mongo=backend", "pgbouncer:pgbouncer=backend", "postgres:postgres=backend", "redis:redis=backend"]);
    const rabbitmq = declaredOf("rabbitmq");
    expect(Object.fromEntries(rabbitmq.ports.map((p) => [p.name, offeredZones(rabbitmq, p)]))).toEqual({ amqp: ["backend"], management: ["monitoring"], prometheus: ["monitoring"] });
  });

  it("admits nothing from a pod in no zone, nothing from another namespace but the gateway's published ports, and nothing into jobs", () => {
    const cluster = clusterOf(prod);
    const pods = podsOf(prod, "10.0.0.0/16");
    // The platform's namespace (the node agents have one of their own).
    const namespace = pods.find((p) => p.name === "prometheus")!.namespace;
    const stranger: Pod = { name: "stranger", namespace, labels: { "app.kubernetes.io/name": "stranger" }, ip: "10.0.9.10", ports: [] };
    // Zone labels do not help from outside: the policies' peers are pods of their own namespace.
    const outsider: Pod = { name: "outsider", namespace: "default", labels: { "fundament.io/zone-backend": "true", "fundament.io/zone-monitoring": "true", "fundament.io/zone-frontend": "true" }, ip: "10.0.9.11", ports: [{ port: 80 }] };
    for (const server of pods) {
      for (const { port } of server.ports) {
        expect(connectionAllowed(cluster, stranger, server, port), `stranger -> ${server.name}:${port}`).toBe(false);
        // Published ports (the gateway's 80 and 443, behind its load balancer) admit any source.
        const published = declaredOf(server.name).ports.some((p) => p.port === port && p.publish === "host");
        expect(connectionAllowed(cluster, outsider, server, port), `outsider -> ${server.name}:${port}`).toBe(published);
      }
      expect(connectionAllowed(cluster, server, stranger, 80), `${server.name} -> stranger`).toBe(false);
    }
    const jobs = pods.filter((p) => ["run", "schedule"].includes(declaredOf(p.name).kind));
    expect(jobs.length).toBeGreaterThanOrEqual(4);
    for (const job of jobs) {
      for (const client of pods) expect(connectionAllowed(cluster, client, job, 8080), `${client.name} -> ${job.name}`).toBe(false);
    }
  });

  it("lets every pod resolve names through kube-dns and nothing else in kube-system", () => {
    const cluster = clusterOf(prod);
    const pods = podsOf(prod, "10.0.0.0/16");
    const dns: Pod = { name: "coredns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, ip: "10.0.0.10", ports: [{ port: 53, name: "dns" }] };
    const other: Pod = { name: "metrics-server", namespace: "kube-system", labels: { "k8s-app": "metrics-server" }, ip: "10.0.0.11", ports: [{ port: 53 }] };
    for (const pod of pods) {
      // A node agent resolves no name: it opens no connection at all.
      const resolves = !NODE_AGENTS.includes(pod.name);
      expect(connectionAllowed(cluster, pod, dns, 53, "UDP"), pod.name).toBe(resolves);
      expect(connectionAllowed(cluster, pod, dns, 53, "TCP"), pod.name).toBe(resolves);
      expect(connectionAllowed(cluster, pod, dns, 443), pod.name).toBe(false);
      expect(connectionAllowed(cluster, pod, other, 53, "UDP"), pod.name).toBe(false);
    }
  });
});

describe("port zones", () => {
  const exporter = { name: "x-exporter", zones: ["backend", "monitoring"] as Zone[], ports: [{ name: "metrics", port: 9000, zones: ["monitoring"] as Zone[] }, { name: "debug", port: 9001 }] };

  it("offer a port in the workload's zones other than monitoring unless the port says otherwise", () => {
    expect(portsByZone(exporter)).toEqual({ frontend: [], backend: [exporter.ports[1]], monitoring: [exporter.ports[0]] });
  });

  it("become one ingress rule per zone with its ports, and none for a workload without ports", () => {
    expect(workloadIngressPolicy(exporter)?.spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: { "fundament.io/zone-backend": "true" } } }], ports: [{ protocol: "TCP", port: 9001 }] },
      { from: [{ podSelector: { matchLabels: { "fundament.io/zone-monitoring": "true" } } }], ports: [{ protocol: "TCP", port: 9000 }] },
    ]);
    expect(workloadIngressPolicy({ name: "job", zones: ["backend"], ports: [] })).toBeUndefined();
  });

  it("refuse a port offered in a zone the workload is not in, naming the port and the zone", () => {
    expect(() => portsByZone({ name: "redis", zones: ["backend"], ports: [{ name: "redis", port: 6379, zones: ["frontend", "monitoring"] }] })).toThrow(
      'workload redis: ports[0] (redis).zones: "frontend" is not one of the workload\'s zones (backend)\nworkload redis: ports[0] (redis).zones: "monitoring" is not one of the workload\'s zones (backend)',
    );
  });
});

describe("the policy evaluator", () => {
  const pod = (name: string, namespace: string, labels: Labels, ip: string, ports: Pod["ports"] = [{ port: 80, name: "http" }]): Pod => ({ name, namespace, labels, ip, ports });
  const a = pod("a", "ns", { app: "a" }, "10.1.0.1");
  const b = pod("b", "ns", { app: "b" }, "10.1.0.2");
  const c = pod("c", "other", { app: "a" }, "192.0.2.5");
  const namespaces = { ns: { "kubernetes.io/metadata.name": "ns" }, other: { "kubernetes.io/metadata.name": "other", team: "x" } };

  it("admits everything without policies and nothing into a pod selected for ingress without rules", () => {
    expect(connectionAllowed({ namespaces, policies: [] }, a, b, 80)).toBe(true);
    const isolated: Cluster = { namespaces, policies: [{ namespace: "ns", spec: { podSelector: { matchLabels: { app: "b" } } } }] };
    expect(connectionAllowed(isolated, a, b, 80)).toBe(false);
    expect(connectionAllowed(isolated, b, a, 80)).toBe(true);
  });

  it("reads podSelector peers in the policy's namespace, namespaceSelector peers across namespaces, ipBlock by address", () => {
    const bySelector = (peer: object): Cluster => ({ namespaces, policies: [{ namespace: "ns", spec: { podSelector: { matchLabels: { app: "b" } }, ingress: [{ from: [peer] }] } }] });
    expect(connectionAllowed(bySelector({ podSelector: { matchLabels: { app: "a" } } }), a, b, 80)).toBe(true);
    expect(connectionAllowed(bySelector({ podSelector: { matchLabels: { app: "a" } } }), c, b, 80)).toBe(false);
    expect(connectionAllowed(bySelector({ namespaceSelector: { matchLabels: { team: "x" } } }), c, b, 80)).toBe(true);
    expect(connectionAllowed(bySelector({ namespaceSelector: { matchLabels: { team: "x" } }, podSelector: { matchLabels: { app: "z" } } }), c, b, 80)).toBe(false);
    expect(connectionAllowed(bySelector({ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }), a, b, 80)).toBe(false);
    expect(connectionAllowed(bySelector({ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] } }), c, b, 80)).toBe(true);
  });

  it("matches ports by number, name, range and protocol, and egress as well as ingress", () => {
    const withPorts = (ports: object[]): Cluster => ({ namespaces, policies: [{ namespace: "ns", spec: { podSelector: {}, policyTypes: ["Egress"], egress: [{ ports }] } }] });
    expect(connectionAllowed(withPorts([{ port: 80 }]), a, b, 80)).toBe(true);
    expect(connectionAllowed(withPorts([{ port: 81 }]), a, b, 80)).toBe(false);
    expect(connectionAllowed(withPorts([{ port: "http" }]), a, b, 80)).toBe(true);
    expect(connectionAllowed(withPorts([{ port: 70, endPort: 90 }]), a, b, 80)).toBe(true);
    expect(connectionAllowed(withPorts([{ port: 80, protocol: "UDP" }]), a, b, 80)).toBe(false);
  });
});
