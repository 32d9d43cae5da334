import * as pulumi from "@pulumi/pulumi";
import { DeployedWorkload, Job, offeredZones, Runtime, ScheduledJob, Workload, WorkloadRoute, Zone } from "../runtime/workload";

/** A route a workload asked for, with the port and zones the gateway reaches it on. */
export interface NotedRoute {
  workload: string;
  route: WorkloadRoute;
  port: number;
  /** Zones the routed port is offered in: the gateway must share one. */
  zones: Zone[];
}

/**
 * The runtime every layer deploys through, noting each workload's route. The gateway renders
 * its routers from these notes, so a new UI or API needs one `route:` line on its workload.
 * A route must name a port that says `publish: "gateway"`: anything else is refused here.
 */
export class RouteRegistry implements Runtime {
  readonly target: "docker" | "kubernetes";
  private readonly noted: NotedRoute[] = [];
  private sealed = false;

  constructor(private readonly inner: Runtime) {
    this.target = inner.target;
  }

  get routes(): readonly NotedRoute[] {
    return this.noted;
  }

  /** The routes, final: the gateway renders them once, so a route declared after this is refused. */
  seal(): readonly NotedRoute[] {
    this.sealed = true;
    return [...this.noted];
  }

  deploy(workload: Workload, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    if (workload.route) {
      const route = workload.route;
      if (this.sealed) throw new Error(`workload ${workload.name}: declares a route after the gateway rendered its routers; deploy it before Gateway.serveRoutes`);
      const port = workload.ports.find((p) => p.name === route.port);
      if (!port) throw new Error(`workload ${workload.name}: route.port "${route.port}" names no port (it has: ${workload.ports.map((p) => p.name).join(", ")})`);
      if (port.publish !== "gateway") throw new Error(`workload ${workload.name}: route.port "${route.port}" must say publish: "gateway" to be routed`);
      this.noted.push({ workload: workload.name, route, port: port.port, zones: offeredZones(workload, port) });
    }
    return this.inner.deploy(workload, opts);
  }

  run(job: Job, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    return this.inner.run(job, opts);
  }

  schedule(job: ScheduledJob, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    return this.inner.schedule(job, opts);
  }
}
