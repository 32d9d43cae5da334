import * as pulumi from "@pulumi/pulumi";
import { DeployedWorkload, Job, MetricsAccess, Runtime, ScheduledJob, Workload, WorkloadFile, WorkloadRole, Zone, roleOf } from "../runtime/workload";

/** One workload Prometheus scrapes: every replica of it, on its declared metrics endpoint. */
export interface ScrapeTarget {
  /** Workload name: the job label, and the DNS name on Docker / the pod selector on Kubernetes. */
  name: string;
  port: number;
  path: string;
  role: WorkloadRole;
  /** What the target is about: an exporter reports on the server it sits beside. */
  service: string;
  zones: Zone[];
  replicas: number;
  /** Kubernetes: the namespace its pods run in, when not the platform's (the node agents'). */
  namespace?: string;
  /** HTTPS with a client certificate and a token; Prometheus mounts the files it names. */
  access?: MetricsAccess;
}

/** postgres-exporter reports on postgres; a server that exports its own metrics reports on itself. */
export function serviceOf(name: string): string {
  return name.replace(/-exporter$/, "");
}

export function scrapeTargetOf(workload: Workload): ScrapeTarget | undefined {
  if (!workload.metrics) return undefined;
  return {
    name: workload.name,
    port: workload.metrics.port,
    path: workload.metrics.path,
    role: roleOf(workload),
    service: serviceOf(workload.name),
    zones: workload.zones,
    replicas: workload.replicas ?? 1,
    ...(workload.metrics.access ? { access: workload.metrics.access } : {}),
  };
}

/**
 * The files Prometheus needs for its targets' access, once per path: the services' scrapes all
 * verify against the one platform CA file, which Prometheus mounts once.
 */
export function scrapeFilesOf(targets: readonly ScrapeTarget[]): WorkloadFile[] {
  const byPath = new Map<string, WorkloadFile>();
  for (const file of targets.flatMap((t) => t.access?.files ?? [])) {
    const known = byPath.get(file.path);
    if (known && (known.secret === true) !== (file.secret === true)) throw new Error(`prometheus scrape files: ${file.path} is asked for as a secret and as a plain file`);
    if (!known) byPath.set(file.path, file);
  }
  return [...byPath.values()];
}

/**
 * The runtime every layer deploys through, noting each workload that declares a metrics
 * endpoint. Prometheus's scrape configuration is rendered from these notes, so a new workload
 * is scraped without touching the monitoring layer.
 */
export class ScrapeTargetRegistry implements Runtime {
  readonly target: "docker" | "kubernetes";
  private readonly noted: ScrapeTarget[] = [];

  constructor(private readonly inner: Runtime) {
    this.target = inner.target;
  }

  get targets(): readonly ScrapeTarget[] {
    return this.noted;
  }

  deploy(workload: Workload, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    const target = scrapeTargetOf(workload);
    if (target) this.noted.push(target);
    return this.inner.deploy(workload, opts);
  }

  run(job: Job, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    return this.inner.run(job, opts);
  }

  schedule(job: ScheduledJob, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload {
    return this.inner.schedule(job, opts);
  }
}
