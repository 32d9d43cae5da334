import * as pulumi from "@pulumi/pulumi";
import { DeployedWorkload, Endpoint, Job, Runtime, ScheduledJob, Workload } from "../../components/runtime/workload";

/** Resolves a Pulumi input under the mock engine. */
export function settled<T>(output: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(output).apply((value) => resolve(value as T)));
}

/**
 * A Runtime that records what a component hands it, so a component test can load those exact
 * files into real servers. Components never call Docker or Kubernetes themselves; this stands
 * where the runtime would.
 */
export class RecordingRuntime implements Runtime {
  readonly deployed: Workload[] = [];
  readonly jobs: Job[] = [];
  readonly scheduled: ScheduledJob[] = [];

  constructor(
    readonly target: "docker" | "kubernetes",
    /** The DNS name a workload is reached by on this target. */
    private readonly hostOf: (name: string) => string = (name) => name,
  ) {}

  deploy(workload: Workload): DeployedWorkload {
    this.deployed.push(workload);
    return this.handle(workload.name, workload.ports.map((p) => [p.name, p.port]));
  }

  run(job: Job): DeployedWorkload {
    this.jobs.push(job);
    return this.handle(job.name, []);
  }

  schedule(job: ScheduledJob): DeployedWorkload {
    this.scheduled.push(job);
    return this.handle(job.name, []);
  }

  workload(name: string): Workload {
    const found = this.deployed.find((w) => w.name === name);
    if (!found) throw new Error(`no workload ${name}`);
    return found;
  }

  private handle(name: string, ports: [string, number][]): DeployedWorkload {
    const host = pulumi.output(this.hostOf(name));
    return {
      name,
      host,
      endpoint: (portName: string) => {
        const port = ports.find(([n]) => n === portName);
        if (!port) throw new Error(`${name} has no port ${portName}`);
        return host.apply((h): Endpoint => ({ host: h, port: port[1] }));
      },
      resources: [],
    };
  }
}
