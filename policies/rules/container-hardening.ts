import { defineResourcePolicy, type FundamentPolicy, type JudgedResource } from "../policy-definition";
import { asBoolean, asNumber, asRecord, asRecords, asString, asStrings, at, type PropertyRecord } from "../model/property-values";
import { DOCKER_CONTAINER, dockerContainerView, imageReferenceOf, normaliseCapability, type DockerContainerView } from "../model/docker-container";
import { isKind, K8S_PERSISTENT_VOLUME, POD_CONTROLLER_TYPES, POD_SPEC_SHAPE, podView, type PodContainer, type PodView } from "../model/kubernetes-objects";
import { readKnown } from "../model/unknown-values";
import { findHostReader, findImageExemption, HOST_READERS_SCHEMA, IMAGE_EXEMPTIONS_SCHEMA } from "../exemptions";

const CONTAINER_TYPES = [DOCKER_CONTAINER, ...POD_CONTROLLER_TYPES];

/** Capabilities that amount to root on the host or let a container read or rewrite its neighbours' traffic. */
const DANGEROUS_CAPABILITIES: ReadonlySet<string> = new Set([
  "ALL",
  "SYS_ADMIN",
  "SYS_MODULE",
  "SYS_PTRACE",
  "SYS_RAWIO",
  "SYS_BOOT",
  "SYS_TIME",
  "NET_ADMIN",
  "NET_RAW",
  "DAC_READ_SEARCH",
  "BPF",
  "PERFMON",
  "MAC_ADMIN",
  "MAC_OVERRIDE",
  "LINUX_IMMUTABLE",
  "SYSLOG",
]);

const DOCKER_SOCKETS = new Set(["/var/run/docker.sock", "/run/docker.sock"]);

/** Kubernetes' safe sysctls: namespaced per pod and isolated from other pods (the baseline Pod Security Standard's list). */
const SAFE_SYSCTLS: ReadonlySet<string> = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
]);

/** Runs `docker` for a Docker container and `pod` for a Kubernetes pod controller. */
function byTarget(
  resource: JudgedResource,
  docker: (view: DockerContainerView, props: PropertyRecord) => void,
  pod: (view: PodView) => void,
): void {
  if (resource.type === DOCKER_CONTAINER) {
    docker(dockerContainerView(resource.props), resource.props);
    return;
  }
  const view = podView(resource.type, resource.props);
  if (view) pod(view);
}

function securityContext(container: PodContainer): PropertyRecord {
  return asRecord(container.container["securityContext"]) ?? {};
}

/** What a Docker container's image is judged by: the pinned reference the runtime labels it with, and its image input. */
function dockerImages(view: DockerContainerView): (string | undefined)[] {
  return [view.labels.get("fundament.image"), imageReferenceOf(view.image, view.workload)];
}

/**
 * Volume kinds that hold only what the API server or a claim hands the pod (the restricted Pod
 * Security Standard's list). hostPath is judged by no-host-path-volume, which knows hostReaders;
 * an image volume mounts an OCI artifact read-only, as the kubelet pulls it for any container.
 */
const ALLOWED_VOLUME_KINDS: ReadonlySet<string> = new Set(["configMap", "secret", "projected", "downwardAPI", "emptyDir", "persistentVolumeClaim", "ephemeral", "csi", "image", "hostPath"]);

/** The SELinux types the baseline Pod Security Standard allows: the ones container runtimes confine processes with. */
const CONTAINER_SELINUX_TYPES: ReadonlySet<string> = new Set(["container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);

/** What is wrong with a pod's or container's seLinuxOptions; a level (the MCS categories) only narrows access. */
function seLinuxProblems(options: PropertyRecord | undefined): string[] {
  if (!options) return [];
  const problems: string[] = [];
  const type = asString(options["type"]);
  if (type !== undefined && type !== "" && !CONTAINER_SELINUX_TYPES.has(type)) problems.push(`type is ${type}, not a container type`);
  for (const field of ["user", "role"]) {
    const value = asString(options[field]);
    if (value !== undefined && value !== "") problems.push(`${field} is set (${value})`);
  }
  return problems;
}

/** What is wrong with one of Docker's security options, when it is an SELinux `label` option. */
function dockerLabelProblem(option: string): string | undefined {
  // Docker takes "label=<key>:<value>", the older "label:<key>:<value>", and "label=disable".
  const match = /^label[:=](.*)$/i.exec(option.trim());
  if (!match) return undefined;
  const body = (match[1] ?? "").trim();
  if (/^disable$/i.test(body)) return "the container runs without SELinux confinement";
  const [key = "", ...rest] = body.split(":");
  const value = rest.join(":");
  if (key === "type" && !CONTAINER_SELINUX_TYPES.has(value)) return `type ${value} is not a container type`;
  if (key === "user" || key === "role") return `a custom SELinux ${key}`;
  return undefined;
}

function isRootUser(user: string): boolean {
  const name = user.split(":")[0] ?? "";
  return name === "root" || name === "0";
}

const isRootGroup = (group: string | undefined): boolean => group === "0" || group === "root";

export const hardeningPolicies: FundamentPolicy[] = [
  defineResourcePolicy({
    name: "no-privileged-containers",
    description: "Containers must not run privileged.",
    concern: "container-hardening",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Remove privileged and add only the specific capability or device the process needs.",
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          if (view.privileged === true) report("privileged is true: the container has every capability and all host devices");
        },
        (pod) => {
          for (const container of pod.containers) {
            if (asBoolean(securityContext(container)["privileged"]) === true) report(`${container.label}: securityContext.privileged is true`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-privilege-escalation",
    description: "Processes must not be able to gain privileges (setuid binaries, file capabilities).",
    concern: "container-hardening",
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Docker: add "no-new-privileges:true" to securityOpts. Kubernetes: set securityContext.allowPrivilegeEscalation: false on every container.',
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          const set = view.securityOpts.some((option) => /^no-new-privileges([:=]true)?$/.test(option));
          if (!set) report('securityOpts lacks "no-new-privileges:true", so setuid binaries can raise privileges');
        },
        (pod) => {
          for (const container of pod.containers) {
            const value = asBoolean(securityContext(container)["allowPrivilegeEscalation"]);
            if (value === true) report(`${container.label}: securityContext.allowPrivilegeEscalation is true`);
            else if (value === undefined) report(`${container.label}: securityContext.allowPrivilegeEscalation is not set (Kubernetes defaults it to true)`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-dangerous-capabilities",
    description: "Containers must not add capabilities that amount to host root (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, ALL, ...).",
    concern: "container-hardening",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Remove the capability; if the process truly needs it, run it in a separate, exempted workload and record why.",
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      const judge = (adds: string[], field: string): void => {
        const dangerous = adds.map(normaliseCapability).filter((capability) => DANGEROUS_CAPABILITIES.has(capability));
        if (dangerous.length > 0) report(`${field} adds ${dangerous.join(", ")}`);
      };
      byTarget(
        resource,
        (view) => judge(view.capabilityAdds, "capabilities"),
        (pod) => {
          for (const container of pod.containers) judge(asStrings(at(securityContext(container), "capabilities", "add")), `${container.label}: securityContext.capabilities`);
        },
      );
    },
  }),
  defineResourcePolicy({
    name: "drop-all-capabilities",
    description: "Containers must drop every capability and add back only what they need; Kubernetes containers only NET_BIND_SERVICE (the restricted Pod Security Standard).",
    concern: "container-hardening",
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: 'Docker: capabilities: { drops: ["ALL"], adds: [<needed>] }. Kubernetes: securityContext.capabilities.drop: ["ALL"], and add at most NET_BIND_SERVICE (start the pod as the image\'s user with fsGroup instead of as root with CHOWN or SETUID).',
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          if (!view.capabilityDrops.includes("ALL")) report('capabilities.drops does not include "ALL", so Docker\'s default set (NET_RAW, CHOWN, SETUID, ...) stays');
        },
        (pod) => {
          for (const container of pod.containers) {
            const drops = asStrings(at(securityContext(container), "capabilities", "drop")).map(normaliseCapability);
            if (!drops.includes("ALL")) report(`${container.label}: securityContext.capabilities.drop does not include "ALL"`);
            // The dangerous ones have their own rule; the rest are what the restricted standard forbids beyond it.
            const adds = asStrings(at(securityContext(container), "capabilities", "add")).map(normaliseCapability);
            const extra = adds.filter((capability) => capability !== "NET_BIND_SERVICE" && !DANGEROUS_CAPABILITIES.has(capability));
            if (extra.length > 0) report(`${container.label}: securityContext.capabilities.add has ${extra.join(", ")}; the restricted Pod Security Standard allows only NET_BIND_SERVICE (on Kubernetes the kubelet hands volumes to fsGroup, so no image needs to chown as root)`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-root-user",
    description: "Containers must run as a non-root user, except images exempted by configuration.",
    concern: "container-hardening",
    severity: "high",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation:
      "Set the Docker container's user to the image's service uid (\"999:999\"), or Kubernetes securityContext.runAsNonRoot: true with runAsUser; exempt an image whose entrypoint must start as root with imageExemptions and a reason.",
    config: { imageExemptions: IMAGE_EXEMPTIONS_SCHEMA },
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report, config) =>
      byTarget(
        resource,
        (view) => {
          const missing = view.user === undefined || view.user === "";
          if (!missing && !isRootUser(view.user ?? "")) return;
          // Only a root container needs its image, which may not be known yet during preview.
          if (dockerImages(view).some((image) => findImageExemption(config.imageExemptions, image))) return;
          report(missing ? "user is missing, so the container runs as the image's default user (root for most official images)" : `user is "${view.user ?? ""}" (root)`);
        },
        (pod) => {
          const podContext = asRecord(pod.spec["securityContext"]) ?? {};
          for (const container of pod.containers) {
            const context = securityContext(container);
            const runAsUser = asNumber(context["runAsUser"]) ?? asNumber(podContext["runAsUser"]);
            // A container's own setting overrides the pod's, in either direction.
            const containerNonRoot = asBoolean(context["runAsNonRoot"]);
            const podNonRoot = asBoolean(podContext["runAsNonRoot"]);
            const runAsNonRoot = containerNonRoot ?? podNonRoot;
            let problem: string | undefined;
            if (runAsUser === 0) problem = "runAsUser is 0 (root)";
            else if (runAsNonRoot === false) {
              // An explicit false switches the kubelet's check off: the image's USER (or a later
              // runAsUser change) may be root and nothing stops it.
              const where =
                containerNonRoot === false
                  ? podNonRoot === true
                    ? "securityContext.runAsNonRoot is false on the container, overriding the pod's true"
                    : "securityContext.runAsNonRoot is false on the container"
                  : "spec.securityContext.runAsNonRoot is false on the pod and the container does not override it";
              problem = `${where}, so the kubelet does not refuse a root user`;
            } else if (runAsUser === undefined && runAsNonRoot === undefined) {
              problem = "neither runAsNonRoot nor runAsUser is set (pod or container), so the image's default user (often root) applies";
            }
            if (problem === undefined || findImageExemption(config.imageExemptions, asString(container.container["image"]))) continue;
            report(`${container.label}: ${problem}`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-root-group",
    description:
      "A non-root container must not run with group 0 (root) as its primary or a supplementary group: runAsGroup, fsGroup or supplementalGroups 0, a Docker user \"uid:0\" or groupAdds 0.",
    concern: "container-hardening",
    // Medium: images built to run under any uid (OpenShift's convention) make their files
    // group-root and group-writable, so group 0 writes what the image meant to be read-only.
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: 'Give the process its own group (runAsGroup and fsGroup equal to the service uid, Docker user "10001:10001") and drop 0 from supplementalGroups and groupAdds.',
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view, props) => {
          const [name, group] = (view.user ?? "").split(":");
          // A root user is no-root-user's finding; its group adds nothing to it.
          if (name && !isRootUser(name) && isRootGroup(group)) report(`user is "${view.user ?? ""}": the process's primary group is root`);
          if (asStrings(props["groupAdds"]).some(isRootGroup)) report("groupAdds names group 0 (root) as a supplementary group");
        },
        (pod) => {
          const podContext = asRecord(pod.spec["securityContext"]) ?? {};
          if (asNumber(podContext["fsGroup"]) === 0) report("spec.securityContext.fsGroup is 0: every volume is made group-root and every container joins group root");
          const supplemental: unknown[] = Array.isArray(podContext["supplementalGroups"]) ? podContext["supplementalGroups"] : [];
          if (supplemental.some((group) => asNumber(group) === 0)) report("spec.securityContext.supplementalGroups includes 0 (root)");
          for (const container of pod.containers) {
            const runAsGroup = asNumber(securityContext(container)["runAsGroup"]) ?? asNumber(podContext["runAsGroup"]);
            if (runAsGroup === 0) report(`${container.label}: runAsGroup is 0 (root)`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "read-only-root-filesystem-for-services",
    description: "The platform's Node.js services (role service) must run with a read-only root filesystem.",
    concern: "container-hardening",
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Set readOnly: true (Docker) or securityContext.readOnlyRootFilesystem: true, and mount a tmpfs/emptyDir at /tmp.",
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view, props) => {
          if (view.role !== "service") return;
          // A files carrier is created and never started: no process runs in its root.
          if (asBoolean(props["start"]) === false && asBoolean(props["mustRun"]) === false) return;
          if (view.readOnly !== true) report(`readOnly is ${view.readOnly === false ? "false" : "not set"}: the service can rewrite its own code`);
        },
        (pod) => {
          if (pod.role !== "service") return;
          for (const container of pod.containers) {
            const value = asBoolean(securityContext(container)["readOnlyRootFilesystem"]);
            if (value !== true) report(`${container.label}: securityContext.readOnlyRootFilesystem is ${value === false ? "false" : "not set"}`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "docker-socket-read-only-gateway",
    description: "Only the gateway, and images named in socketReaders, may mount the Docker socket, and only read-only.",
    concern: "container-hardening",
    severity: "critical",
    enforcement: "mandatory",
    remediation:
      "Remove the socket mount, or for the gateway (Traefik's Docker provider) mount it with readOnly: true; an agent that must read Docker's state (cAdvisor) is named in socketReaders with a reason, and mounts it read-only.",
    config: { socketReaders: IMAGE_EXEMPTIONS_SCHEMA },
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report, config) =>
      byTarget(
        resource,
        (view) => {
          // Read-only does not narrow Docker's API (a socket's mode limits connecting, not requests):
          // a socket reader is trusted like the gateway, so the list stays short and reasoned.
          // Read only when a socket is mounted: during preview the image may not be known yet.
          const reader = (): boolean => dockerImages(view).some((image) => findImageExemption(config.socketReaders, image));
          for (const volume of view.hostVolumes) {
            if (!DOCKER_SOCKETS.has(volume.hostPath)) continue;
            if (!view.isGateway && !reader()) report(`mounts the Docker socket ${volume.hostPath}, which gives root on the host; only the gateway and the images socketReaders names may`);
            else if (!volume.readOnly) report(`mounts the Docker socket ${volume.hostPath} read-write`);
          }
        },
        (pod) => {
          const sockets = new Set(
            asRecords(pod.spec["volumes"]).flatMap((volume) => {
              const path = asString(at(volume, "hostPath", "path"));
              const name = asString(volume["name"]);
              return path !== undefined && DOCKER_SOCKETS.has(path) && name !== undefined ? [name] : [];
            }),
          );
          for (const container of pod.containers) {
            for (const mount of asRecords(container.container["volumeMounts"])) {
              if (!sockets.has(asString(mount["name"]) ?? "")) continue;
              if (pod.role !== "gateway") report(`${container.label}: mounts the Docker socket; only the gateway may`);
              else if (asBoolean(mount["readOnly"]) !== true) report(`${container.label}: mounts the Docker socket read-write`);
            }
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-seccomp-unconfined",
    description: "Containers must run under a seccomp profile (Docker's default or RuntimeDefault), never unconfined.",
    concern: "container-hardening",
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Docker: remove "seccomp=unconfined" from securityOpts. Kubernetes: set securityContext.seccompProfile.type: RuntimeDefault on the pod.',
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          for (const option of view.securityOpts) {
            if (/^seccomp[:=]unconfined$/i.test(option)) report(`securityOpts has "${option}"`);
          }
        },
        (pod) => {
          const podProfile = asString(at(pod.spec, "securityContext", "seccompProfile", "type"));
          for (const container of pod.containers) {
            const profile = asString(at(securityContext(container), "seccompProfile", "type")) ?? podProfile;
            // The kubelet runs pods Unconfined unless a profile is named.
            if (profile === undefined) report(`${container.label}: no seccompProfile on the container or pod, so it runs Unconfined`);
            else if (profile === "Unconfined") report(`${container.label}: seccompProfile.type is Unconfined`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-host-pid-ipc",
    description: "Containers must not share the host's PID or IPC namespace.",
    concern: "container-hardening",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Remove pidMode/ipcMode \"host\" (Docker) or hostPID/hostIPC (Kubernetes).",
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          if (view.pidMode === "host") report('pidMode is "host": the container sees and can signal every host process');
          if (view.ipcMode === "host") report('ipcMode is "host": the container shares the host\'s shared memory');
        },
        (pod) => {
          if (asBoolean(pod.spec["hostPID"]) === true) report("hostPID is true");
          if (asBoolean(pod.spec["hostIPC"]) === true) report("hostIPC is true");
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-joined-namespaces",
    description: "A container must not join another container's network, PID or IPC namespace (Docker's container:<name> modes), nor share one PID namespace across a pod's containers.",
    concern: "container-hardening",
    // High: a joined network namespace reaches the other container's loopback-only ports and its
    // networks, past the zone rule; a joined PID namespace reads the other processes'
    // environment and, through /proc/<pid>/root, their files (secrets included) as the same user.
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Docker: remove networkMode/pidMode/ipcMode "container:..." and reach the other container over a shared zone network. Kubernetes: remove shareProcessNamespace (or set it false).',
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          const modes = { networkMode: asString(readKnown(() => resource.props["networkMode"])), pidMode: view.pidMode, ipcMode: view.ipcMode };
          const what = { networkMode: "its network stack: ports bound to its loopback, and its networks past the zone rule", pidMode: "its processes: their environment and, through /proc/<pid>/root, their files", ipcMode: "its shared memory" };
          for (const [field, mode] of Object.entries(modes) as [keyof typeof modes, string | undefined][]) {
            if (mode?.startsWith("container:")) report(`${field} is "${mode}": the container joins ${mode.slice("container:".length)}'s namespace and reaches ${what[field]}`);
          }
        },
        (pod) => {
          if (asBoolean(pod.spec["shareProcessNamespace"]) === true) report("shareProcessNamespace is true: every container of the pod sees the others' processes, their environment and, through /proc/<pid>/root, their files and mounted secrets");
        },
      ),
  }),
  defineResourcePolicy({
    name: "docker-no-host-devices-or-namespaces",
    description: "Docker containers must not map host devices or share the host's user or cgroup namespace.",
    concern: "container-hardening",
    // Docker Bench for Security 5.17, 5.31 and the cgroup namespace check: each undoes one of
    // the walls between a container and its host that the other hardening rules assume.
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Remove devices (a GPU is requested with gpus, not by mapping /dev nodes), and usernsMode/cgroupnsMode "host".',
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const mode = (field: string) => asString(readKnown(() => resource.props[field]));
      if (mode("usernsMode") === "host") report('usernsMode is "host": the container opts out of the daemon\'s user-namespace remapping, so its root is the host\'s root');
      if (mode("cgroupnsMode") === "host") report('cgroupnsMode is "host": the container sees and, with write access, changes the host\'s cgroup tree');
      asRecords(readKnown(() => resource.props["devices"])).forEach((device, index) => {
        const hostPath = asString(device["hostPath"]) ?? "a host device";
        report(`devices[${index}] maps ${hostPath} into the container: it reads and writes the device beneath every file permission`);
      });
    },
  }),
  defineResourcePolicy({
    name: "no-windows-host-process",
    description: "Kubernetes pods and containers must not run as Windows HostProcess containers.",
    concern: "container-hardening",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Remove securityContext.windowsOptions.hostProcess (the Pod Security Standards' baseline forbids it).",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      const pod = podView(resource.type, resource.props);
      if (!pod) return;
      // A HostProcess container is a process on the Windows node, with the node's network, files and privileges.
      if (asBoolean(at(pod.spec, "securityContext", "windowsOptions", "hostProcess")) === true) report("securityContext.windowsOptions.hostProcess is true on the pod");
      for (const container of pod.containers) {
        if (asBoolean(at(securityContext(container), "windowsOptions", "hostProcess")) === true) report(`${container.label}: windowsOptions.hostProcess is true`);
      }
    },
  }),
  defineResourcePolicy({
    name: "no-host-path-volume",
    description: "Containers must not mount directories of the host or node (hostPath volumes, Docker binds), except the read-only paths hostReaders names for an image.",
    concern: "container-hardening",
    // High: a hostPath reaches the node's files (kubelet credentials, other pods' volumes, /etc)
    // and outlives the pod; the platform's data lives on PersistentVolumeClaims instead.
    severity: "high",
    enforcement: "mandatory",
    remediation:
      "Use a PersistentVolumeClaim or Docker volume for data, an emptyDir or tmpfs for scratch space, and a ConfigMap, Secret or upload for files; a per-host agent that must read the host (node-exporter, cAdvisor) is named in hostReaders with its image, the exact paths and a reason, and mounts them read-only.",
    config: { hostReaders: HOST_READERS_SCHEMA },
    types: [...CONTAINER_TYPES, K8S_PERSISTENT_VOLUME],
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report, config) => {
      if (isKind(resource.type, "PersistentVolume")) {
        // Any pod that claims it mounts the node's directory, past the pod rules above.
        const path = asString(at(resource.props, "spec", "hostPath", "path"));
        if (path !== undefined) report(`spec.hostPath makes the node's ${path} a PersistentVolume: any pod that claims it reads and writes that directory of whichever node it runs on`);
        return;
      }
      byTarget(
        resource,
        (view) => {
          view.hostVolumes.forEach((volume) => {
            // The Docker socket has its own rule (only the gateway and socket readers, read-only).
            if (DOCKER_SOCKETS.has(volume.hostPath)) return;
            if (findHostReader(config.hostReaders, dockerImages(view), volume.hostPath, volume.readOnly)) return;
            report(`binds the host's ${volume.hostPath}${volume.readOnly ? "" : " read-write"} at ${volume.containerPath ?? "?"}`);
          });
        },
        (pod) => {
          asRecords(pod.spec["volumes"]).forEach((volume, index) => {
            const path = asString(at(volume, "hostPath", "path"));
            const name = asString(volume["name"]) ?? "?";
            if (path === undefined || DOCKER_SOCKETS.has(path)) return;
            // Every container that mounts it must be a host reader for this path, and mount it read-only.
            const users = pod.containers.flatMap((container) =>
              asRecords(container.container["volumeMounts"])
                .filter((mount) => asString(mount["name"]) === name)
                .map((mount) => ({ image: asString(container.container["image"]), readOnly: asBoolean(mount["readOnly"]) === true })),
            );
            const accepted = users.length > 0 && users.every((user) => findHostReader(config.hostReaders, [user.image], path, user.readOnly));
            if (!accepted) report(`volumes[${index}] "${name}" is a hostPath volume of the node's ${path}`);
          });
        },
      );
    },
  }),
  defineResourcePolicy({
    name: "k8s-restricted-volume-types",
    description: "Pod volumes must be of the kinds the restricted Pod Security Standard allows (configMap, secret, projected, downwardAPI, emptyDir, persistentVolumeClaim, ephemeral, csi, image); hostPath has its own rule.",
    concern: "container-hardening",
    // High: a gitRepo volume runs git on the node as root with the pod's repository (CVE-2024-10220),
    // flexVolume runs a driver binary on the node, and nfs, iscsi, rbd, cephfs and the other
    // in-tree kinds mount storage straight from the pod spec, past the PersistentVolume's access
    // control and with its credentials inline.
    severity: "high",
    enforcement: "mandatory",
    remediation: "Mount storage through a PersistentVolumeClaim (its PersistentVolume or StorageClass names the backend); clone a repository in an init container into an emptyDir instead of a gitRepo volume.",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      const pod = podView(resource.type, resource.props);
      asRecords(pod?.spec["volumes"]).forEach((volume, index) => {
        const kinds = Object.keys(volume).filter((key) => key !== "name" && volume[key] !== undefined && volume[key] !== null);
        const refused = kinds.filter((kind) => !ALLOWED_VOLUME_KINDS.has(kind));
        if (refused.length > 0) report(`volumes[${index}] "${asString(volume["name"]) ?? "?"}": volume kind ${refused.join(" and ")} is not one the restricted Pod Security Standard allows`);
      });
    },
  }),
  defineResourcePolicy({
    name: "no-unmasked-proc-mount",
    description: "Containers must keep the default masked /proc and /sys (Kubernetes procMount Default; no Docker systempaths=unconfined).",
    concern: "container-hardening",
    // High: an Unmasked /proc exposes the kernel's knobs (/proc/sys, /proc/sysrq-trigger) that
    // the runtime masks to keep a container from reconfiguring the node.
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Kubernetes: remove securityContext.procMount (or set it to Default). Docker: remove "systempaths=unconfined" from securityOpts.',
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          for (const option of view.securityOpts) {
            if (/^systempaths[:=]unconfined$/i.test(option.trim())) report(`securityOpts has "${option}", so /proc and /sys are not masked`);
          }
        },
        (pod) => {
          for (const container of pod.containers) {
            const procMount = asString(securityContext(container)["procMount"]);
            if (procMount !== undefined && procMount !== "Default") report(`${container.label}: securityContext.procMount is ${procMount}, so /proc is not masked`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-unsafe-sysctls",
    description: "Pods may set only the sysctls Kubernetes counts as safe (namespaced, isolated from other pods).",
    concern: "container-hardening",
    // Medium: the kubelet refuses an unsafe sysctl unless the node allows it, and where it does,
    // the setting reaches beyond the pod (kernel.*, vm.*, most of net.*).
    severity: "medium",
    enforcement: "mandatory",
    remediation: "Drop the sysctl, or tune it on the node group (launch template user data) where it applies to every pod knowingly.",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      const pod = podView(resource.type, resource.props);
      asRecords(at(pod?.spec, "securityContext", "sysctls")).forEach((sysctl, index) => {
        const name = asString(sysctl["name"]);
        if (name !== undefined && !SAFE_SYSCTLS.has(name.replace(/\//g, "."))) report(`securityContext.sysctls[${index}] sets ${name}, which is not one of Kubernetes' safe sysctls`);
      });
    },
  }),
  defineResourcePolicy({
    name: "no-apparmor-unconfined",
    description: "Containers must run under an AppArmor profile (the runtime's default or a named one), never unconfined.",
    concern: "container-hardening",
    // High, as no-seccomp-unconfined: it removes a kernel confinement layer the runtime gives by default.
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Docker: remove "apparmor=unconfined" from securityOpts. Kubernetes: remove appArmorProfile type Unconfined (or the container.apparmor.security.beta.kubernetes.io annotation "unconfined"), or use RuntimeDefault.',
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          for (const option of view.securityOpts) {
            if (/^apparmor[:=]unconfined$/i.test(option)) report(`securityOpts has "${option}"`);
          }
        },
        (pod) => {
          const podProfile = asString(at(pod.spec, "securityContext", "appArmorProfile", "type"));
          for (const container of pod.containers) {
            const name = asString(container.container["name"]) ?? "";
            const annotation = pod.annotations[`container.apparmor.security.beta.kubernetes.io/${name}`];
            const profile = asString(at(securityContext(container), "appArmorProfile", "type"));
            if (profile === "Unconfined") report(`${container.label}: securityContext.appArmorProfile.type is Unconfined`);
            else if (profile === undefined && annotation === "unconfined") report(`${container.label}: the pod annotation container.apparmor.security.beta.kubernetes.io/${name} is unconfined`);
            else if (profile === undefined && annotation === undefined && podProfile === "Unconfined") report(`${container.label}: the pod's securityContext.appArmorProfile.type is Unconfined and the container does not override it`);
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-selinux-override",
    description: "Containers must keep the runtime's SELinux confinement: no label disabled, no custom SELinux user or role, and only the container types (container_t, container_init_t, container_kvm_t, container_engine_t).",
    concern: "container-hardening",
    // High, as the baseline Pod Security Standard has it: spc_t ("super privileged container") or a
    // disabled label lets the process touch every host file SELinux would have kept from it.
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Docker: remove "label=disable" and "label=user:", "label=role:" or a "label=type:" other than a container type from securityOpts. Kubernetes: remove seLinuxOptions.user and .role and set .type only to container_t, container_init_t, container_kvm_t or container_engine_t (a level such as s0:c123,c456 is fine).',
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          for (const option of view.securityOpts) {
            const problem = dockerLabelProblem(option);
            if (problem !== undefined) report(`securityOpts has "${option}": ${problem}`);
          }
        },
        (pod) => {
          seLinuxProblems(asRecord(at(pod.spec, "securityContext", "seLinuxOptions"))).forEach((problem) => report(`securityContext.seLinuxOptions: ${problem}`));
          for (const container of pod.containers) {
            seLinuxProblems(asRecord(securityContext(container)["seLinuxOptions"])).forEach((problem) => report(`${container.label}: securityContext.seLinuxOptions: ${problem}`));
          }
        },
      ),
  }),
  defineResourcePolicy({
    name: "no-default-service-account-token",
    description: "Pods that call no Kubernetes API must not get a service account token mounted.",
    concern: "container-hardening",
    // Medium: the token of the namespace's default account is what an attacker in the pod
    // presents to the API server; it grants little by itself, unless someone binds a role to it.
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Set automountServiceAccountToken: false on the pod; a workload that calls the API gets its own ServiceAccount (serviceAccountName) with a Role for what it calls.",
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      const pod = podView(resource.type, resource.props);
      if (!pod) return;
      const account = asString(pod.spec["serviceAccountName"]) ?? asString(pod.spec["serviceAccount"]);
      // A named account is there to call the API; its token is the point.
      if (account !== undefined && account !== "" && account !== "default") return;
      if (asBoolean(pod.spec["automountServiceAccountToken"]) === false) return;
      report(`automountServiceAccountToken is ${pod.spec["automountServiceAccountToken"] === undefined ? "not set" : "true"} and the pod runs as the namespace's default ServiceAccount, so every container gets an API token it does not need`);
    },
  }),
  defineResourcePolicy({
    name: "docker-cpu-limit",
    description: "Docker containers must have a CPU limit (cpus, or a cpuSet of their own cores), so one busy loop cannot starve every other container on the host.",
    concern: "container-hardening",
    // Medium: the host stays up, but a spinning process takes the cores the database and the
    // services' health checks need, and they fail one after the other.
    severity: "medium",
    enforcement: "mandatory",
    remediation: 'Set cpus from the workload\'s resources.cpu, as the provider prints it ("0.5", "2.0").',
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const cpus = asString(readKnown(() => resource.props["cpus"]));
      const cpuSet = asString(readKnown(() => resource.props["cpuSet"]));
      if (cpuSet !== undefined && cpuSet.trim() !== "") return;
      if (cpus === undefined || cpus.trim() === "") report("cpus is missing: the container may use every core of the host");
      else if (!(Number(cpus) > 0)) report(`cpus is ${cpus}: the container may use every core of the host`);
    },
  }),
  defineResourcePolicy({
    name: "docker-log-rotation",
    description: "Docker containers must keep and rotate their logs: json-file (the daemon's usual default) keeps every line until the disk is full, and none keeps nothing.",
    concern: "container-hardening",
    // Medium: one chatty or crash-looping container fills /var/lib/docker, and then every
    // container on the host fails, the databases first.
    severity: "medium",
    enforcement: "mandatory",
    remediation: 'Set logDriver "json-file" with logOpts max-size (e.g. "10m") and max-file (e.g. "5"), or logDriver "local" (it rotates by itself), or a driver that ships the logs off the host (journald, fluentd, awslogs).',
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const driver = asString(readKnown(() => resource.props["logDriver"]));
      const options = asRecord(readKnown(() => resource.props["logOpts"])) ?? {};
      if (driver === undefined || driver === "") {
        report('logDriver is not set: the daemon\'s default (json-file unless its daemon.json says otherwise) keeps the logs without limit');
        return;
      }
      if (driver === "none") {
        report('logDriver is "none": the container\'s output is thrown away, so a crash leaves nothing to read');
        return;
      }
      if (driver !== "json-file") return;
      const maxSize = asString(options["max-size"]);
      if (maxSize === undefined || maxSize === "" || maxSize === "-1") report(`logDriver is json-file without logOpts max-size${maxSize === "-1" ? " (-1 is unlimited)" : ""}: the log grows until the disk is full`);
    },
  }),
  defineResourcePolicy({
    name: "docker-memory-limit",
    description: "Docker containers must have a memory limit, so one runaway process cannot take the host down.",
    concern: "container-hardening",
    severity: "medium",
    enforcement: "mandatory",
    remediation: "Set memory (MiB) from the workload's resources.memoryMiB.",
    types: [DOCKER_CONTAINER],
    validate: (resource, report) => {
      const memory = dockerContainerView(resource.props).memoryMiB;
      if (memory === undefined) report("memory is missing: the container may use all host memory");
      else if (memory <= 0) report(`memory is ${memory}: the container may use all host memory`);
    },
  }),
];
