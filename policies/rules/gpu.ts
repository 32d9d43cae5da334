import { defineResourcePolicy, type FundamentPolicy } from "../policy-definition";
import { asRecords, asString, asStrings, at } from "../model/property-values";
import { carriesPodSpec, isKind, K8S_DAEMON_SET, POD_CONTROLLER_TYPES, POD_SPEC_SHAPE, podView, type PodView } from "../model/kubernetes-objects";

const GPU_RESOURCE = "nvidia.com/gpu";

function isGpuNodeGroup(amiType: string | undefined, instanceTypes: string[]): boolean {
  const gpuAmi = amiType !== undefined && /GPU|NVIDIA/i.test(amiType);
  // Accelerated families: g4dn, g5, g6, gr6, p3, p4d, p5 ... (the letter then a digit).
  const gpuInstance = instanceTypes.some((type) => /^(g|gr|p)\d/i.test(type));
  return gpuAmi || gpuInstance;
}

function requestsGpu(pod: PodView): boolean {
  return pod.containers.some(({ container }) =>
    ["limits", "requests"].some((group) => {
      const value = at(container, "resources", group, GPU_RESOURCE);
      return value !== undefined && value !== 0 && value !== "0";
    }),
  );
}

/** A toleration admits the GPU taint if it names its key (or no key with Exists) and NoSchedule (or every effect). */
function toleratesGpuTaint(pod: PodView): "explicit" | "wildcard" | undefined {
  let result: "explicit" | "wildcard" | undefined;
  for (const toleration of asRecords(pod.spec["tolerations"])) {
    const key = asString(toleration["key"]);
    const operator = asString(toleration["operator"]) ?? "Equal";
    const effect = asString(toleration["effect"]);
    if (effect !== undefined && effect !== "" && effect !== "NoSchedule") continue;
    if (key === GPU_RESOURCE) return "explicit";
    if ((key === undefined || key === "") && operator === "Exists") result = "wildcard";
  }
  return result;
}

export const gpuPolicies: FundamentPolicy[] = [
  defineResourcePolicy({
    name: "gpu-node-group-tainted",
    description: "GPU node groups must carry the nvidia.com/gpu NoSchedule taint so ordinary pods stay off them.",
    concern: "gpu",
    severity: "medium",
    enforcement: "mandatory",
    remediation: 'Add taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }] to the node group.',
    types: ["aws:eks/nodeGroup:NodeGroup"],
    validate: (resource, report) => {
      const amiType = asString(resource.props["amiType"]);
      const instanceTypes = asStrings(resource.props["instanceTypes"]);
      if (!isGpuNodeGroup(amiType, instanceTypes)) return;
      const tainted = asRecords(resource.props["taints"]).some(
        (taint) => asString(taint["key"]) === GPU_RESOURCE && asString(taint["effect"]) === "NO_SCHEDULE",
      );
      if (!tainted) {
        const why = amiType !== undefined && /GPU|NVIDIA/i.test(amiType) ? `amiType ${amiType}` : `instanceTypes ${instanceTypes.join(", ")}`;
        report(`GPU node group (${why}) has no nvidia.com/gpu NO_SCHEDULE taint, so any pod may take its expensive nodes`);
      }
    },
  }),
  defineResourcePolicy({
    name: "gpu-pod-tolerates-gpu-taint",
    description: "Pods that request nvidia.com/gpu must tolerate the GPU taint, or they never schedule.",
    concern: "gpu",
    severity: "medium",
    enforcement: "mandatory",
    remediation: 'Add tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] to the pod template.',
    types: POD_CONTROLLER_TYPES,
    alsoJudges: POD_SPEC_SHAPE,
    validate: (resource, report) => {
      const pod = podView(resource.type, resource.props);
      if (!pod || !requestsGpu(pod)) return;
      if (toleratesGpuTaint(pod) === undefined) report("requests nvidia.com/gpu but has no toleration for the nvidia.com/gpu NoSchedule taint");
    },
  }),
  defineResourcePolicy({
    name: "non-gpu-pod-no-gpu-toleration",
    description: "Pods that request no GPU must not tolerate the GPU taint (they would crowd out GPU jobs).",
    concern: "gpu",
    severity: "low",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Remove the nvidia.com/gpu toleration (and any key-less Exists toleration) from pods that request no GPU.",
    // DaemonSets are per-node agents (exporters, log shippers) that must run on GPU nodes too.
    types: POD_CONTROLLER_TYPES.filter((type) => type !== K8S_DAEMON_SET),
    alsoJudges: { description: "any other Kubernetes object with a pod spec, DaemonSets excepted", matches: (type, props) => carriesPodSpec(type, props) && !isKind(type, "DaemonSet") },
    validate: (resource, report) => {
      const pod = podView(resource.type, resource.props);
      if (!pod || requestsGpu(pod)) return;
      const toleration = toleratesGpuTaint(pod);
      if (toleration === "explicit") report("tolerates the nvidia.com/gpu taint without requesting nvidia.com/gpu");
      else if (toleration === "wildcard") report("has a key-less Exists toleration, which admits it to GPU nodes, without requesting nvidia.com/gpu");
    },
  }),
];

