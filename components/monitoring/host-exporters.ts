import { HostMount, Probe, Workload } from "../runtime/workload";

export const NODE_EXPORTER_PORT = 9100;
export const CADVISOR_PORT = 8080;

/** quay.io/prometheus/node-exporter: USER nobody in its Dockerfile. */
const NOBODY = { uid: 65534, gid: 65534 };

const http = (port: number, path: string, failureThreshold = 3): Probe => ({ kind: "http", port, path, periodSeconds: 10, timeoutSeconds: 5, failureThreshold });

/**
 * The host as node-exporter reads it: its /proc and /sys, and its root for filesystem sizes.
 * Read-only, and no host PID or network namespace: /proc/stat, /proc/meminfo and the mount table
 * of the host's PID 1 are host-wide through the mounted /proc, so CPU, memory and disk are the
 * host's. Network counters (node_network_*) are the exporter's own namespace; per-workload
 * traffic comes from cAdvisor on Docker.
 */
export const NODE_EXPORTER_MOUNTS: readonly HostMount[] = [
  { hostPath: "/proc", path: "/host/proc" },
  { hostPath: "/sys", path: "/host/sys" },
  { hostPath: "/", path: "/host/root" },
];

/** Filesystems that are not the host's disks: pseudo filesystems, and the runtimes' per-container mounts. */
export const NODE_EXPORTER_MOUNT_POINTS_EXCLUDE = "^/(dev|proc|sys|run/credentials/.+|var/lib/docker/.+|var/lib/containerd/.+|var/lib/kubelet/.+)($|/)";

/** The arguments after the image's ENTRYPOINT (/bin/node_exporter); tests/config runs them on Debian's binary. */
export function nodeExporterArgs(paths: { procfs: string; sysfs: string; rootfs: string } = { procfs: "/host/proc", sysfs: "/host/sys", rootfs: "/host/root" }, listen = `:${NODE_EXPORTER_PORT}`): string[] {
  return [
    `--path.procfs=${paths.procfs}`,
    `--path.sysfs=${paths.sysfs}`,
    `--path.rootfs=${paths.rootfs}`,
    `--web.listen-address=${listen}`,
    `--collector.filesystem.mount-points-exclude=${NODE_EXPORTER_MOUNT_POINTS_EXCLUDE}`,
  ];
}

/**
 * node-exporter: host CPU, memory and filesystems for the host alerts and the resource dashboard.
 * One container on Docker; on Kubernetes one pod per node (everyNode), in the node-agents
 * namespace (NodeAgents), since the platform namespace's baseline Pod Security forbids host paths.
 */
export function nodeExporterWorkload(image: string): Workload {
  return {
    name: "node-exporter",
    role: "exporter",
    image,
    args: nodeExporterArgs(),
    zones: ["monitoring"],
    ports: [{ name: "metrics", port: NODE_EXPORTER_PORT, zones: ["monitoring"] }],
    // The landing page answers without reading the host; liveness waits twice as long as readiness.
    health: { readiness: http(NODE_EXPORTER_PORT, "/"), liveness: http(NODE_EXPORTER_PORT, "/", 6) },
    resources: { cpu: 0.2, memoryMiB: 96 },
    stopGracePeriodSeconds: 10,
    metrics: { port: NODE_EXPORTER_PORT, path: "/metrics" },
    hostMounts: [...NODE_EXPORTER_MOUNTS],
    everyNode: true,
    user: NOBODY,
    readOnlyRootFilesystem: true,
  };
}

/**
 * What cAdvisor reads (its README's `docker run`, narrowed): the host's root (it finds itself
 * outside the host's namespaces by /rootfs/proc), the cgroup tree under /sys, Docker's state, and
 * Docker's socket for container names. Not /var/run as a whole, not /dev/disk (device names
 * only), no /dev/kmsg (OOM events only) and not privileged.
 *
 * The socket is mounted read-only, which does not make Docker's API read-only: whoever holds it
 * can start a privileged container. The exception is accepted for this one image on the internal
 * monitoring network with no published port (policies/stack-config.ts says so with the rule).
 */
export const CADVISOR_MOUNTS: readonly HostMount[] = [
  { hostPath: "/", path: "/rootfs" },
  { hostPath: "/sys", path: "/sys" },
  { hostPath: "/var/lib/docker", path: "/var/lib/docker" },
  { hostPath: "/var/run/docker.sock", path: "/var/run/docker.sock" },
];

export function cadvisorArgs(): string[] {
  return [
    `--port=${CADVISOR_PORT}`,
    // Docker's containers and the host's root cgroup, not every systemd unit.
    "--docker_only=true",
    // Docker labels become no series labels: the platform's labels would multiply the series, and
    // cAdvisor adds a restartcount label on every restart, which would start a new series each
    // time and hide the restart from changes(container_start_time_seconds[...]).
    "--store_container_labels=false",
    "--housekeeping_interval=10s",
  ];
}

/**
 * cAdvisor (Docker only; the kubelet embeds it on Kubernetes): CPU, memory, network and disk per
 * container, labelled by container name, and container_start_time_seconds for the restart alert.
 * It runs as the image's root with every capability dropped: Docker's state directory is root's
 * (0710) and the socket is root:docker 0660, both readable to their owner without a capability.
 */
export function cadvisorWorkload(image: string): Workload {
  return {
    name: "cadvisor",
    role: "exporter",
    image,
    // After the image's ENTRYPOINT (entrypoint.sh, which adds -logtostderr).
    args: cadvisorArgs(),
    zones: ["monitoring"],
    ports: [{ name: "metrics", port: CADVISOR_PORT, zones: ["monitoring"] }],
    health: { readiness: http(CADVISOR_PORT, "/healthz"), liveness: http(CADVISOR_PORT, "/healthz", 6) },
    resources: { cpu: 0.5, memoryMiB: 256 },
    stopGracePeriodSeconds: 10,
    metrics: { port: CADVISOR_PORT, path: "/metrics" },
    hostMounts: [...CADVISOR_MOUNTS],
    readOnlyRootFilesystem: true,
  };
}
