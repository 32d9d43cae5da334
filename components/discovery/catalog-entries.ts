import * as pulumi from "@pulumi/pulumi";
import { DeployedWorkload, HEALTH_CHECKER, Job, Probe, Runtime, ScheduledJob, Workload, roleOf } from "../runtime/workload";
import { ConsulCheck, ConsulServiceDefinition } from "./consul-config";

/**
 * The catalogue entry the Consul servers hold for an infrastructure workload, with a check
 * derived from its readiness probe: an http probe becomes an HTTP check of the same path (https,
 * verified against the platform CA for the probe's server name, when the port serves TLS only), a tcp
 * probe a TCP check of the same port. An exec probe runs a program inside the workload's own
 * container, which Consul cannot do from its own (and script checks stay off): it becomes a TCP
 * check of the workload's first port, so the catalogue says whether the server accepts
 * connections, which is what a client of it needs.
 *
 * Consul dials `<name>:<port>`, the name every other workload uses, from its own network place:
 * the zone rule admits the health checker to each workload's check port over any zone they share
 * (zoneRuleAdmits, README: Zones), and the catalogue registry marks that port for the runtime.
 */
export function catalogEntryOf(workload: Workload): ConsulServiceDefinition | undefined {
  const role = roleOf(workload);
  // Services register themselves through the kit; a workload without ports has nothing to reach.
  if (role === "service" || workload.ports.length === 0) return undefined;
  const probe: Probe = workload.health.readiness;
  const interval = probe.periodSeconds ?? 10;
  const timeout = Math.min(probe.timeoutSeconds ?? 5, interval);
  const first = workload.ports[0];
  const check: ConsulCheck =
    probe.kind === "http"
      ? {
          kind: "http",
          name: `${workload.name} readiness (GET ${probe.path})`,
          url: `${probe.https ? "https" : "http"}://${workload.name}:${probe.port}${probe.path}`,
          intervalSeconds: interval,
          timeoutSeconds: timeout,
          ...(probe.https ? { tlsServerName: probe.https.serverName } : {}),
        }
      : {
          kind: "tcp",
          name: probe.kind === "tcp" ? `${workload.name} readiness (TCP ${probe.port})` : `${workload.name} accepts connections (TCP ${first.port}; its probe runs inside it)`,
          address: `${workload.name}:${probe.kind === "tcp" ? probe.port : first.port}`,
          intervalSeconds: interval,
          timeoutSeconds: timeout,
        };
  // Clients find the workload's main (first) port; the check may dial another (Jaeger's health port).
  return { id: workload.name, name: workload.name, address: workload.name, port: first.port, tags: [role, `port-${first.name}`], checks: [check] };
}

/** The port the catalogue check of a workload dials: its probe's, or its first port for an exec probe. */
export function checkedPort(workload: Workload): number | undefined {
  if (roleOf(workload) === "service" || workload.ports.length === 0) return undefined;
  const probe = workload.health.readiness;
  return probe.kind === "exec" ? workload.ports[0].port : probe.port;
}

/**
 * The workload with its check port marked (WorkloadPort.healthCheck), so the runtime admits the
 * health checker to it. A check of a port the workload does not declare is refused: it would be
 * reached by no Service name (Kubernetes) and admitted by no policy.
 */
export function withCheckedPort(workload: Workload): Workload {
  const port = checkedPort(workload);
  if (port === undefined) return workload;
  if (!workload.ports.some((p) => p.port === port)) {
    throw new Error(`workload ${workload.name}: its readiness probe dials port ${port}, which it does not declare in ports (Consul checks it there: declare it, with zones: [] if only probes use it)`);
  }
  return { ...workload, ports: workload.ports.map((p) => (p.port === port ? { ...p, healthCheck: true } : p)) };
}

/**
 * The runtime every layer deploys through, noting each workload's catalogue entry. The Consul
 * servers' configuration is rendered from these notes when its inputs resolve, which is after
 * the whole program has described its workloads (Pulumi runs apply callbacks asynchronously),
 * so layers above discovery (monitoring, gateway) are in the catalogue as well.
 */
export class CatalogRegistry implements Runtime {
  readonly target: "docker" | "kubernetes";
  private readonly noted: ConsulServiceDefinition[] = [];

  constructor(private readonly inner: Runtime) {
    this.target = inner.target;
  }

  get entries(): readonly ConsulServiceDefinition[] {
    return this.noted;
  }

  deploy(workload: Workload, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    // The servers do not check themselves: their own probes and the quorum say whether they are up.
    if (workload.name === HEALTH_CHECKER) return this.inner.deploy(workload, opts);
    const entry = catalogEntryOf(workload);
    if (entry) this.noted.push(entry);
    return this.inner.deploy(withCheckedPort(workload), opts);
  }

  run(job: Job, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    return this.inner.run(job, opts);
  }

  schedule(job: ScheduledJob, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    return this.inner.schedule(job, opts);
  }
}
