import type { PolicyPackConfig } from "@pulumi/policy";
import type { HostReader, RuleConfig } from "./exemptions";
import { STACK_NAMES, type FundamentPolicy, type StackName } from "./policy-definition";

/**
 * Exemptions that belong to a stack rather than to a rule. Each needs a reason a reviewer can check.
 * In dev, the data images keep their entrypoints, which start as root only to chown the data
 * directory of a fresh Docker volume and then drop to the service user with gosu.
 */
const NODE_EXPORTER: HostReader = {
  image: "quay.io/prometheus/node-exporter",
  paths: ["/proc", "/sys", "/"],
  reason: "host CPU, memory and filesystem metrics: reads the host's /proc, /sys and mount points, read-only, as nobody with every capability dropped",
};
const CADVISOR_IMAGE = "ghcr.io/google/cadvisor";

/** grafana/grafana's group is root by its image's design; see the reason. */
const GRAFANA_ROOT_GROUP = {
  exemptions: [
    {
      name: "grafana",
      reason:
        "grafana/grafana runs as 472 in group root, which owns its data, plugin and provisioning paths in the image (Grafana's documented OpenShift convention; its own Kubernetes manifest adds group 0); the root filesystem is read-only, so group root writes only Grafana's own volume",
    },
  ],
};

const STACK_EXEMPTIONS: Record<StackName, Record<string, RuleConfig>> = {
  dev: {
    "no-root-group": GRAFANA_ROOT_GROUP,
    "no-root-user": {
      imageExemptions: [
        ...["postgres", "redis", "mongo", "rabbitmq"].map((image) => ({
          image,
          reason: "official entrypoint starts as root only to chown the volume, then drops to its service user with gosu",
        })),
        {
          image: CADVISOR_IMAGE,
          reason: "reads Docker's state (/var/lib/docker, root 0710) and its socket (root:docker 0660) as their owner; runs with every capability dropped, no new privileges, read-only root",
        },
      ],
    },
    "no-host-path-volume": {
      hostReaders: [
        NODE_EXPORTER,
        {
          image: CADVISOR_IMAGE,
          paths: ["/", "/sys", "/var/lib/docker"],
          reason: "per-container CPU, memory, network and disk: reads the cgroup tree, Docker's state and the host's filesystems, read-only",
        },
      ],
    },
    "docker-socket-read-only-gateway": {
      socketReaders: [
        {
          image: CADVISOR_IMAGE,
          reason:
            "names containers by asking Docker (the socket's read-only mount does not limit the API: trusted like the gateway); on the internal monitoring network only, no published port",
        },
      ],
    },
  },
  prod: {
    "no-root-group": GRAFANA_ROOT_GROUP,
    // The DaemonSet runs in the node-agents namespace, whose Pod Security admits host paths (NodeAgents).
    "no-host-path-volume": { hostReaders: [NODE_EXPORTER] },
    "k8s-namespace-pod-security": {
      exemptions: [
        {
          name: "*-node-agents-namespace",
          reason: "node-exporter reads the node's /proc, /sys and / through hostPath volumes, which baseline refuses; the namespace holds only the node agents, warns and audits at baseline, and its default-deny NetworkPolicy admits only Prometheus",
        },
      ],
    },
  },
};

export function isStackName(stack: string | undefined): stack is StackName {
  return STACK_NAMES.some((name) => name === stack);
}

/** The --policy-pack-config a stack is previewed with: per-policy enforcement plus the stack's exemptions. */
export function stackPolicyConfig(stack: StackName, policies: readonly FundamentPolicy[]): PolicyPackConfig {
  const config: PolicyPackConfig = {};
  for (const policy of policies) {
    config[policy.name] = { enforcementLevel: policy.stackEnforcement[stack], ...STACK_EXEMPTIONS[stack][policy.name] };
  }
  return config;
}
