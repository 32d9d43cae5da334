import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { probeTiming } from "./probe-command";
import { Probe, Workload, WorkloadFile, WorkloadGpu, WorkloadRole, WorkloadStorage, Zone, portTransports } from "./workload";

type PodSpec = k8s.types.input.core.v1.PodSpec;
type ProbeSpec = k8s.types.input.core.v1.Probe;
type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;

/** The parts of a Workload, Job or ScheduledJob that make one pod. */
export type PodSource = Omit<Workload, "health" | "ports"> & Partial<Pick<Workload, "health" | "ports">>;

export const GPU_RESOURCE = "nvidia.com/gpu";
export const GPU_POOL_LABEL = "fundament.io/gpu-pool";
export const GPU_MODEL_LABEL = "fundament.io/gpu-model";
/** Set on GPU pools by the stack (and by NVIDIA's GPU feature discovery where it runs). */
export const GPU_PRESENT_LABEL = "nvidia.com/gpu.present";

/** PriorityClasses of the platform (components/gpu/scheduling.ts creates them; "services" is the global default). */
export const PRIORITY_CLASSES = { critical: "fundament-platform-critical", services: "fundament-services", gpuBatch: "fundament-gpu-batch" } as const;

/** Data and the gateway are what everything else stands on; GPU work yields to them. */
export function priorityClassOf(source: { role?: WorkloadRole; gpu?: WorkloadGpu; everyNode?: boolean }): string | undefined {
  if (source.gpu) return PRIORITY_CLASSES.gpuBatch;
  // A per-node agent that cannot fit is missing on that node for good: no other node takes its place.
  if (source.everyNode) return PRIORITY_CLASSES.critical;
  if (source.role === undefined || source.role === "data" || source.role === "gateway") return PRIORITY_CLASSES.critical;
  return undefined;
}

/** Required node affinity of a GPU pod: GPU nodes only, of its pool or model when it names one. */
function gpuAffinity(gpu: WorkloadGpu): k8s.types.input.core.v1.Affinity {
  const expressions = [{ key: GPU_PRESENT_LABEL, operator: "In", values: ["true"] }];
  if (gpu.pool) expressions.push({ key: GPU_POOL_LABEL, operator: "In", values: [gpu.pool] });
  if (gpu.model) expressions.push({ key: GPU_MODEL_LABEL, operator: "In", values: [gpu.model] });
  return { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: expressions }] } } };
}

/** Required anti-affinity: no two replicas of the workload on one node. */
function spreadAffinity(name: string): k8s.types.input.core.v1.Affinity {
  return { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: selectorLabels(name) }, topologyKey: "kubernetes.io/hostname" }] } };
}

/**
 * Soft spreading for replicas that may outnumber the nodes (an autoscaled service goes from 3 to
 * 12): the scheduler prefers other nodes and zones, and still places a replica where it cannot.
 * Tainted nodes the pods do not tolerate (the GPU pools) are left out of the skew, and each
 * rollout's new ReplicaSet is spread on its own (pod-template-hash).
 */
function spreadConstraints(name: string): k8s.types.input.core.v1.TopologySpreadConstraint[] {
  return ["kubernetes.io/hostname", "topology.kubernetes.io/zone"].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: "ScheduleAnyway",
    labelSelector: { matchLabels: selectorLabels(name) },
    matchLabelKeys: ["pod-template-hash"],
    nodeTaintsPolicy: "Honor",
  }));
}

/**
 * Long-running pods that may run more than one replica (autoscaled, or replicas above one) and
 * neither follow GPUs, run on every node, nor already keep one per node. A single-replica server
 * gets none: there is nothing to spread, and a changed pod template would restart it for nothing.
 */
function spreadsSoftly(source: PodSource, restartPolicy: "Always" | "Never" | "OnFailure"): boolean {
  const several = source.autoscaled === true || (source.replicas ?? 1) > 1;
  return restartPolicy === "Always" && several && !source.gpu && !source.everyNode && !source.spreadReplicas;
}

export function zoneLabel(zone: Zone): string {
  return `fundament.io/zone-${zone}`;
}

export function selectorLabels(name: string): Record<string, string> {
  return { "app.kubernetes.io/name": name };
}

/**
 * Marks pods that run as a ServiceAccount, i.e. call the Kubernetes API: the network layer lets
 * only these reach the API server, which default-deny (and the zones' private-range exception) blocks.
 */
export const KUBERNETES_API_LABEL = "fundament.io/kubernetes-api";

export function workloadLabels(source: { name: string; zones: Zone[]; serviceAccount?: string }, role: WorkloadRole, environment: string): Record<string, string> {
  return {
    ...selectorLabels(source.name),
    "app.kubernetes.io/part-of": "fundament",
    "app.kubernetes.io/instance": environment,
    "fundament.io/role": role,
    ...Object.fromEntries(source.zones.map((zone) => [zoneLabel(zone), "true"])),
    ...(source.serviceAccount === undefined ? {} : { [KUBERNETES_API_LABEL]: "true" }),
  };
}

/** ConfigMap and Secret keys: the file path flattened to the characters keys allow. */
export function fileKey(file: WorkloadFile): string {
  return file.path.replace(/^\/+/, "").replace(/[^A-Za-z0-9._-]/g, "_");
}

function probeSpec(probe: Probe | undefined): ProbeSpec | undefined {
  if (!probe) return undefined;
  const timing = probeTiming(probe);
  const check: ProbeSpec =
    probe.kind === "exec"
      ? { exec: { command: probe.command } }
      : probe.kind === "http"
        ? { httpGet: { port: probe.port, path: probe.path, ...(probe.https ? { scheme: "HTTPS" } : {}) } }
        : { tcpSocket: { port: probe.port } };
  return { ...check, ...timing };
}

export interface PodNames {
  configMap?: pulumi.Input<string>;
  secret?: pulumi.Input<string>;
  /** Name of the claim template (StatefulSet) or the claim (Job/CronJob) per storage name. */
  claims?: Record<string, string>;
  /** StatefulSets mount volumeClaimTemplates by name; others need a volume entry. */
  claimsAreTemplates: boolean;
}

/**
 * The pod a Workload becomes: resources as requests = limits, probes, files mounted read-only
 * one by one (so a mount never hides what the image keeps beside it), and the hardening
 * defaults of DESIGN.md: no privilege, no escalation, capabilities dropped, seccomp on.
 */
export function podSpec(source: PodSource, names: PodNames, restartPolicy: "Always" | "Never" | "OnFailure"): PodSpec {
  const files = source.files ?? [];
  const volumes: Volume[] = [];
  const mounts: VolumeMount[] = [];
  const plain = files.filter((f) => !f.secret);
  const secret = files.filter((f) => f.secret);
  if (plain.length > 0 && names.configMap) {
    volumes.push({ name: "files", configMap: { name: names.configMap, defaultMode: 0o444, items: plain.map((f) => ({ key: fileKey(f), path: fileKey(f), mode: f.mode })) } });
    mounts.push(...plain.map((f) => ({ name: "files", mountPath: f.path, subPath: fileKey(f), readOnly: true })));
  }
  if (secret.length > 0 && names.secret) {
    volumes.push({ name: "secrets", secret: { secretName: names.secret, defaultMode: 0o400, items: secret.map((f) => ({ key: fileKey(f), path: fileKey(f), mode: f.mode })) } });
    mounts.push(...secret.map((f) => ({ name: "secrets", mountPath: f.path, subPath: fileKey(f), readOnly: true })));
  }
  for (const storage of source.storage ?? []) {
    const claim = names.claims?.[storage.name] ?? storage.name;
    const readOnly = storage.from !== undefined;
    if (!names.claimsAreTemplates) volumes.push({ name: storage.name, persistentVolumeClaim: { claimName: claim, readOnly } });
    mounts.push({ name: storage.name, mountPath: storage.path, readOnly });
  }
  for (const mount of source.hostMounts ?? []) {
    const name = `host${mount.hostPath === "/" ? "-root" : mount.hostPath.replace(/[^A-Za-z0-9]+/g, "-").replace(/-$/, "")}`.toLowerCase();
    volumes.push({ name, hostPath: { path: mount.hostPath } });
    // The host's later mounts (new volumes) show up below a view of its root.
    mounts.push({ name, mountPath: mount.path, readOnly: true, ...(mount.hostPath === "/" ? { mountPropagation: "HostToContainer" } : {}) });
  }
  if (source.readOnlyRootFilesystem) {
    volumes.push({ name: "tmp", emptyDir: { sizeLimit: "64Mi" } });
    mounts.push({ name: "tmp", mountPath: "/tmp" });
  }
  if (source.shmSizeMiB) {
    volumes.push({ name: "shm", emptyDir: { medium: "Memory", sizeLimit: `${source.shmSizeMiB}Mi` } });
    mounts.push({ name: "shm", mountPath: "/dev/shm" });
  }
  const limits: Record<string, string> = { cpu: `${Math.round(source.resources.cpu * 1000)}m`, memory: `${source.resources.memoryMiB}Mi` };
  if (source.gpu) limits[GPU_RESOURCE] = String(source.gpu.count);
  // Images start as root only to chown their data directory before dropping to their user. On
  // Kubernetes the kubelet hands volumes to fsGroup instead, so the pod starts as that user and
  // needs none of the capabilities the root start uses.
  const runAsNonRoot = Boolean(source.user);
  const capabilities = source.startsAsRoot ? [] : (source.capabilities ?? []);
  const container: Container = {
    name: source.name,
    image: source.image,
    imagePullPolicy: "IfNotPresent",
    command: source.command,
    args: source.args,
    env: Object.entries(source.env ?? {}).map(([name, value]) => ({ name, value })),
    ports: (source.ports ?? []).flatMap((port) => portTransports(port).map((t) => ({ name: t.name, containerPort: port.port, protocol: t.protocol }))),
    resources: { requests: limits, limits },
    startupProbe: probeSpec(source.health?.startup),
    readinessProbe: probeSpec(source.health?.readiness),
    livenessProbe: probeSpec(source.health?.liveness),
    volumeMounts: mounts,
    securityContext: {
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: source.readOnlyRootFilesystem ?? false,
      runAsNonRoot: runAsNonRoot || undefined,
      runAsUser: runAsNonRoot ? source.user?.uid : undefined,
      runAsGroup: runAsNonRoot ? source.user?.gid : undefined,
      capabilities: { drop: ["ALL"], add: capabilities.length > 0 ? capabilities : undefined },
    },
  };
  return {
    containers: [container],
    volumes,
    restartPolicy,
    terminationGracePeriodSeconds: source.stopGracePeriodSeconds,
    serviceAccountName: source.serviceAccount,
    automountServiceAccountToken: source.serviceAccount !== undefined,
    enableServiceLinks: false,
    securityContext: {
      seccompProfile: { type: "RuntimeDefault" },
      fsGroup: source.user?.gid,
      fsGroupChangePolicy: source.user ? "OnRootMismatch" : undefined,
    },
    priorityClassName: priorityClassOf(source),
    affinity: source.gpu ? gpuAffinity(source.gpu) : source.spreadReplicas ? spreadAffinity(source.name) : undefined,
    topologySpreadConstraints: spreadsSoftly(source, restartPolicy) ? spreadConstraints(source.name) : undefined,
    // A per-node agent runs on GPU nodes too (it requests no GPU, so it takes none from the jobs).
    tolerations: source.gpu || source.everyNode ? [{ key: GPU_RESOURCE, operator: "Exists", effect: "NoSchedule" }] : undefined,
  };
}

export function claimTemplate(storage: WorkloadStorage, storageClass: string | undefined): k8s.types.input.core.v1.PersistentVolumeClaim {
  return {
    metadata: { name: storage.name },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: storageClass,
      resources: { requests: { storage: `${storage.sizeGiB}Gi` } },
    },
  };
}

/** Data of a ConfigMap or Secret holding a workload's files, keyed by fileKey. */
export function filesData(files: WorkloadFile[]): Record<string, pulumi.Input<string>> {
  return Object.fromEntries(files.map((f) => [fileKey(f), f.content]));
}
