import { defineResourcePolicy, type FundamentPolicy, type JudgedResource } from "../policy-definition";
import { asBoolean, asNumber, asRecord, asRecords, asString, asStrings, at, type PropertyRecord } from "../model/property-values";
import { DOCKER_CONTAINER, dockerContainerView, imageReferenceOf, normaliseCapability, type DockerContainerView } from "../model/docker-container";
import { POD_CONTROLLER_TYPES, POD_SPEC_SHAPE, podView, type PodContainer, type PodView } from "../model/kubernetes-objects";
import { findImageExemption, IMAGE_EXEMPTIONS_SCHEMA } from "../exemptions";

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

function isRootUser(user: string): boolean {
  const name = user.split(":")[0] ?? "";
  return name === "root" || name === "0";
}

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
    description: "Containers must drop every capability and add back only what they need.",
    concern: "container-hardening",
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: 'Docker: capabilities: { drops: ["ALL"], adds: [<needed>] }. Kubernetes: securityContext.capabilities.drop: ["ALL"].',
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
          if (findImageExemption(config.imageExemptions, imageReferenceOf(view.image, view.workload))) return;
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
    description: "Only the gateway may mount the Docker socket, and only read-only.",
    concern: "container-hardening",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Remove the socket mount, or for the gateway (Traefik's Docker provider) mount it with readOnly: true.",
    types: CONTAINER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) =>
      byTarget(
        resource,
        (view) => {
          for (const volume of view.hostVolumes) {
            if (!DOCKER_SOCKETS.has(volume.hostPath)) continue;
            if (!view.isGateway) report(`mounts the Docker socket ${volume.hostPath}, which gives root on the host; only the gateway may`);
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
