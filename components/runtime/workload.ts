import * as pulumi from "@pulumi/pulumi";
import type { ImageFacts } from "./image-facts";

/**
 * A workload reaches another iff they share a zone, and only on the ports the other offers in
 * that zone (DESIGN.md, idea 3), with one exception: the health checker (zoneRuleAdmits).
 */
export type Zone = "frontend" | "backend" | "monitoring";
export const ZONES: readonly Zone[] = ["frontend", "backend", "monitoring"];

/** Zones with no route out of the platform: data and telemetry never talk to the internet. */
export const INTERNAL_ZONES: readonly Zone[] = ["backend", "monitoring"];

export type ProbeCheck =
  | { kind: "exec"; command: string[] }
  | { kind: "http"; port: number; path: string; https?: HttpsProbe }
  | { kind: "tcp"; port: number };

/**
 * An http probe of a port that serves HTTPS only. Docker runs it inside the container, verifying
 * the server against `caFile` for `serverName` (a name its leaf carries; the probe dials the
 * loopback address). Kubernetes' kubelet probes with scheme HTTPS, which does not verify.
 */
export interface HttpsProbe {
  caFile: string;
  serverName: string;
}

export type Probe = ProbeCheck & {
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  initialDelaySeconds?: number;
};

export interface WorkloadPort {
  name: string;
  port: number;
  /**
   * "host": published by the runtime (on Docker's publishAddress; through the load balancer
   * Service on Kubernetes): only the gateway does this. "gateway": routed by Traefik.
   */
  publish?: "host" | "gateway";
  /** A published port's number on the host or load balancer, when it differs from the container's (80 for a listener on 8080). */
  hostPort?: number;
  /**
   * Zones whose members may connect to this port; each must be one of the workload's zones.
   * Default: every zone of the workload except monitoring, so a data port never opens to the
   * monitoring zone by accident; a metrics port says `["monitoring"]`.
   */
  zones?: Zone[];
  /**
   * Consul's catalogue check of the workload dials this port (set by the catalogue registry,
   * components/discovery/catalog-entries.ts): the health checker reaches it over any zone it
   * shares with the workload, even where the port is offered to none (zoneRuleAdmits).
   */
  healthCheck?: boolean;
  /** The server listens on UDP as well as TCP on this port (Consul's DNS and gossip): offered, admitted and published on both. */
  udp?: boolean;
}

/** Each transport a port takes, and the name it carries there (Kubernetes port names are at most 15 characters and unique). */
export function portTransports(port: WorkloadPort): { name: string; protocol: "TCP" | "UDP" }[] {
  const name = port.name.slice(0, 15);
  return port.udp ? [{ name, protocol: "TCP" }, { name: `${port.name.slice(0, 11)}-udp`, protocol: "UDP" }] : [{ name, protocol: "TCP" }];
}

export interface WorkloadFile {
  path: string;
  content: pulumi.Input<string>;
  /** Secret files become Kubernetes Secrets / secret uploads; their content is a Pulumi secret. */
  secret?: boolean;
  /** Octal file mode the consuming server requires (e.g. 0o400 for a MongoDB keyFile). */
  mode?: number;
}

export interface RateLimit {
  averagePerSecond: number;
  burst: number;
}

export interface WorkloadRoute {
  host: string;
  pathPrefix?: string;
  /** Per client address; the gateway puts it on the route's router (there is no unlimited route). */
  rateLimit: RateLimit;
  /** Port name the gateway forwards to. */
  port: string;
  /** Protect the route with basic auth held by the gateway (admin UIs). */
  basicAuth?: boolean;
  /**
   * With basicAuth: the UI reads the Authorization header itself (RabbitMQ management sends its
   * own login as Basic on every API call, which a second, gateway-only password would collide
   * with). The gateway then checks that same login, bcrypt-hashed, and passes the header on.
   */
  backendLogin?: { user: string; password: pulumi.Input<string>; bcryptHash: pulumi.Input<string> };
  /** The port speaks HTTPS with a platform-CA leaf (Consul): the gateway verifies it against the CA. */
  tls?: boolean;
  /**
   * Requests the backend holds open on purpose (watches, event streams): the gateway serves them
   * on a router of their own, so its latency alert is not paged by a wait the client asked for.
   */
  longPolls?: readonly LongPoll[];
}

/** A route that holds requests: a route template (`/things/:id/watch`), and when only some requests wait, the query parameter that makes them. */
export interface LongPoll {
  path: string;
  /** Held only when the request carries this query parameter (the JWKS document is read plainly too). */
  heldWith?: string;
}

/** Admin UIs are for a few people: a low limit that still lets a dashboard load its panels at once. */
export const ADMIN_RATE_LIMIT: RateLimit = { averagePerSecond: 20, burst: 100 };

/**
 * The route of an admin UI: `<ui>.<domain>`, behind the gateway's basic auth. One line on the
 * workload (`route: adminRoute("grafana", domain)`) is all the gateway needs to serve it.
 */
export function adminRoute(ui: string, domain: string, port = "http"): WorkloadRoute {
  return { host: `${ui}.${domain}`, port, basicAuth: true, rateLimit: ADMIN_RATE_LIMIT };
}

/** The route of a public API: `<api>.<domain>`, authenticated by the service itself. */
export function apiRoute(api: string, domain: string, rateLimit: RateLimit, port = "http", longPolls: readonly LongPoll[] = []): WorkloadRoute {
  return { host: `${api}.${domain}`, port, rateLimit, ...(longPolls.length > 0 ? { longPolls } : {}) };
}

/** Where Prometheus scrapes a workload; `access` when the endpoint wants TLS and a token. */
export interface WorkloadMetrics {
  port: number;
  path: string;
  access?: MetricsAccess;
}

/**
 * A scrape over HTTPS, verified against a CA for `serverName`; with a client certificate and a
 * bearer token where the endpoint wants them (Consul's /v1/agent/metrics), without for a server
 * that only proves itself (the services' metrics listeners).
 */
export interface MetricsAccess {
  params?: Record<string, string[]>;
  /** The name the server's certificate carries (the scrape dials a pod address on Kubernetes). */
  serverName: string;
  /** Paths inside Prometheus's container, and the files that put them there. */
  caFile: string;
  certFile?: string;
  keyFile?: string;
  credentialsFile?: string;
  files: WorkloadFile[];
}

export interface WorkloadStorage {
  name: string;
  path: string;
  sizeGiB: number;
  /** Mount the volume `name` of this other job instead of creating one (read-only). */
  from?: string;
}

/**
 * A directory or socket of the host, mounted read-only: only per-host agents that report on the
 * host itself (node-exporter, cAdvisor) have them. Never writable: there is no field for it.
 * The policy pack accepts them only for the images and paths its stack configuration names
 * (no-host-path-volume, docker-socket-read-only-gateway).
 */
export interface HostMount {
  hostPath: string;
  path: string;
}

export interface WorkloadGpu {
  count: number;
  pool?: string;
  model?: string;
}

export interface WorkloadResources {
  cpu: number;
  memoryMiB: number;
}

/** What a workload is to the platform; policies and dashboards group by it. */
export type WorkloadRole = "data" | "exporter" | "gateway" | "service" | "job" | "monitoring";

/**
 * One description, two targets. A Workload is what a layer asks for; runtime/docker.ts and
 * runtime/kubernetes.ts decide how it becomes resources.
 */
export interface Workload {
  name: string;
  /** The image was built on the Docker engine by the stack (dev services): never pulled. */
  localImage?: boolean;
  /** Defaults: "job" for jobs, "exporter" for images named *exporter*, otherwise "data". */
  role?: WorkloadRole;
  /** Pinned reference; an Output only for images the stack builds itself. */
  image: pulumi.Input<string>;
  /** What the image ships (image-facts.ts); required for images the stack builds, looked up by reference otherwise. */
  imageFacts?: ImageFacts;
  command?: string[];
  args?: string[];
  zones: Zone[];
  ports: WorkloadPort[];
  /** Never a secret: secrets travel as files (see `files`). */
  env?: Record<string, pulumi.Input<string>>;
  files?: WorkloadFile[];
  health: { startup?: Probe; readiness: Probe; liveness: Probe };
  /**
   * "none": the image has no shell or client to run a probe inside it (scratch images), so Docker
   * runs it without a healthcheck and its scrape (`up`) watches it; Kubernetes probes from the kubelet.
   */
  dockerHealthcheck?: "none";
  resources: WorkloadResources;
  storage?: WorkloadStorage[];
  stopGracePeriodSeconds: number;
  /** Signal that starts a graceful stop (PostgreSQL wants SIGINT for a fast shutdown). */
  stopSignal?: string;
  replicas?: number;
  /**
   * An autoscaler owns the replica count (Kubernetes: a HorizontalPodAutoscaler on the
   * Deployment). The controller then leaves spec.replicas out, so an update never resets what the
   * autoscaler chose; the autoscaler's minimum brings a new Deployment up to `replicas`.
   */
  autoscaled?: boolean;
  /** Kubernetes: replicas only on different nodes (required pod anti-affinity), so one node's loss takes one. */
  spreadReplicas?: boolean;
  /**
   * Kubernetes: the Service gets no virtual IP, and its name resolves to every replica's address,
   * ready or not (servers that join each other; clients that must come back to the replica they
   * registered with). Docker runs one replica under its container name anyway.
   */
  peerDiscovery?: boolean;
  metrics?: WorkloadMetrics;
  /** Read-only views of the host the process reports on. */
  hostMounts?: HostMount[];
  /**
   * One replica on every node (Kubernetes: a DaemonSet, tolerating the GPU taint so GPU nodes are
   * covered too); Docker has one host, so one container. `replicas` and storage do not apply.
   */
  everyNode?: boolean;
  route?: WorkloadRoute;
  /** GPUs the workload needs: only it may land on GPU nodes, of this pool or model when given. */
  gpu?: WorkloadGpu;
  /** Runs as this user; omitted only where the image must start as root and drops privileges itself. */
  user?: { uid: number; gid: number };
  /** Kubernetes: run as this ServiceAccount with its token mounted (a workload that calls the API); Docker ignores it. */
  serviceAccount?: string;
  /** Docker: the entrypoint starts as root to chown its data dir, then drops to `user`. Kubernetes starts as `user` (fsGroup owns volumes). */
  startsAsRoot?: boolean;
  /** The process writes only to its storage, its files and /tmp. */
  readOnlyRootFilesystem?: boolean;
  /** Linux capabilities the image's entrypoint needs after all others are dropped. */
  capabilities?: string[];
  /** Size of /dev/shm (PostgreSQL parallel workers use it). */
  shmSizeMiB?: number;
  /** Workloads that must be healthy (services) or have succeeded (jobs) before this one starts. */
  dependsOn?: DeployedWorkload[];
}

/** A one-shot task: runs to completion once per change (bucket creation, replica-set initiation). */
export interface Job extends Omit<Workload, "ports" | "health" | "replicas" | "route" | "metrics" | "storage" | "spreadReplicas" | "peerDiscovery" | "hostMounts" | "everyNode"> {
  /** Retries before the deployment fails. */
  backoffLimit?: number;
}

/** A task on a cron schedule (backups). */
export interface ScheduledJob extends Omit<Job, "backoffLimit"> {
  /** Five-field cron expression, UTC. */
  schedule: string;
  storage?: WorkloadStorage[];
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface DeployedWorkload {
  readonly name: string;
  /** The name other workloads resolve (container name / Service DNS name). */
  readonly host: pulumi.Output<string>;
  endpoint(portName: string): pulumi.Output<Endpoint>;
  /** Resources a dependant should wait for. */
  readonly resources: pulumi.Resource[];
  /** Where its published ports answer from outside: the load balancer's hostname (Kubernetes); absent when nothing is published. */
  readonly publicHostname?: pulumi.Output<string | undefined>;
  /** Docker: the container's address on each of its networks, known once it exists (Kubernetes pods have no stable address). */
  readonly addresses?: pulumi.Output<string[]>;
}

export interface Runtime {
  readonly target: "docker" | "kubernetes";
  deploy(workload: Workload, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload;
  run(job: Job, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload;
  schedule(job: ScheduledJob, opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource }): DeployedWorkload;
}

export function roleOf(workload: { role?: WorkloadRole; image: pulumi.Input<string> }, isJob = false): WorkloadRole {
  if (workload.role) return workload.role;
  if (isJob) return "job";
  return typeof workload.image === "string" && /exporter/.test(workload.image) ? "exporter" : "data";
}

/** The zones a port is offered in (its own list, or the workload's zones other than monitoring). */
export function offeredZones(workload: { zones: Zone[] }, port: WorkloadPort): Zone[] {
  return port.zones ?? workload.zones.filter((zone) => zone !== "monitoring");
}

/**
 * The workload that runs the infrastructure workloads' health checks: the Consul servers. Their
 * checks dial each workload from Consul's own place in the network, so the zone rule names them.
 */
export const HEALTH_CHECKER = "consul";

/**
 * The zone rule, for one connection: the client shares a zone in which the target offers the
 * port; or the client is the health checker, the port is the target's check port, and the two
 * share a zone (any zone: a check port such as the gateway's ping is offered to no zone, since
 * nothing else needs it). Docker applies it by network (README, Zones); Kubernetes by policy.
 */
export function zoneRuleAdmits(client: { name: string; zones: Zone[] }, target: { zones: Zone[] }, port: WorkloadPort): boolean {
  if (offeredZones(target, port).some((zone) => client.zones.includes(zone))) return true;
  return client.name === HEALTH_CHECKER && port.healthCheck === true && target.zones.some((zone) => client.zones.includes(zone));
}

/**
 * Per zone of the workload, the ports offered there. Throws, naming every offending port, when a
 * port is offered in a zone the workload is not in: nobody there could reach it, so it is a mistake.
 */
export function portsByZone(workload: { name: string; zones: Zone[]; ports?: WorkloadPort[] }): Record<Zone, WorkloadPort[]> {
  const problems: string[] = [];
  (workload.ports ?? []).forEach((port, index) => {
    for (const zone of port.zones ?? []) {
      if (!workload.zones.includes(zone)) {
        problems.push(`workload ${workload.name}: ports[${index}] (${port.name}).zones: "${zone}" is not one of the workload's zones (${workload.zones.join(", ")})`);
      }
    }
  });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return Object.fromEntries(
    ZONES.map((zone) => [zone, workload.zones.includes(zone) ? (workload.ports ?? []).filter((port) => offeredZones(workload, port).includes(zone)) : []]),
  ) as Record<Zone, WorkloadPort[]>;
}
