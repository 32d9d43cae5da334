import * as pulumi from "@pulumi/pulumi";
import { DeployedWorkload, Job, Probe, Runtime, ScheduledJob, Workload, roleOf } from "../runtime/workload";
import { ConsulCheck, ConsulServiceDefinition } from "./consul-config";

/**
 * The catalogue entry the Consul servers hold for an infrastructure workload, with a check
 * derived from its readiness probe: an http probe becomes an HTTP check of the same path, a tcp
 * probe a TCP check of the same port. An exec probe runs a program inside the workload's own
 * container, which Consul cannot do from its own (and script checks stay off): it becomes a TCP
 * check of the workload's first port, so the catalogue says whether the server accepts
 * connections, which is what a client of it needs.
 *
 * Consul dials `<name>:<port>`, the name every other workload uses, from its own network place:
 * Consul is a member of every zone (components/network/zones.ts), so it reaches exactly the ports
 * each workload offers there.
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
      ? { kind: "http", name: `${workload.name} readiness (GET ${probe.path})`, url: `http://${workload.name}:${probe.port}${probe.path}`, intervalSeconds: interval, timeoutSeconds: timeout }
      : {
          kind: "tcp",
          name: probe.kind === "tcp" ? `${workload.name} readiness (TCP ${probe.port})` : `${workload.name} accepts connections (TCP ${first.port}; its probe runs inside it)`,
          address: `${workload.name}:${probe.kind === "tcp" ? probe.port : first.port}`,
          intervalSeconds: interval,
          timeoutSeconds: timeout,
        };
  const port = probe.kind === "exec" ? first.port : probe.port;
  const served = workload.ports.find((p) => p.port === port) ?? first;
  return { id: workload.name, name: workload.name, address: workload.name, port: served.port, tags: [role, `port-${served.name}`], checks: [check] };
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
    const entry = catalogEntryOf(workload);
    if (entry) this.noted.push(entry);
    return this.inner.deploy(workload, opts);
  }

  run(job: Job, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    return this.inner.run(job, opts);
  }

  schedule(job: ScheduledJob, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    return this.inner.schedule(job, opts);
  }
}
