/**
 * Cluster add-ons with no Docker counterpart, from their maintainers' Helm charts, pinned by
 * chart version (and, where the chart lets the image float with the cluster, by image tag).
 */
export interface PinnedChart {
  chart: string;
  version: string;
  repo: string;
}

export const CHARTS = {
  nvidiaDevicePlugin: { chart: "nvidia-device-plugin", version: "0.17.2", repo: "https://nvidia.github.io/k8s-device-plugin" },
  dcgmExporter: { chart: "dcgm-exporter", version: "4.1.3", repo: "https://nvidia.github.io/dcgm-exporter/helm-charts" },
  clusterAutoscaler: { chart: "cluster-autoscaler", version: "9.59.0", repo: "https://kubernetes.github.io/autoscaler" },
  metricsServer: { chart: "metrics-server", version: "3.12.2", repo: "https://kubernetes-sigs.github.io/metrics-server/" },
  verticalPodAutoscaler: { chart: "vpa", version: "4.7.2", repo: "https://charts.fairwinds.com/stable" },
  // Chart and controller share the version from v3 on (its image tag is the chart's appVersion).
  awsLoadBalancerController: { chart: "aws-load-balancer-controller", version: "3.5.0", repo: "https://aws.github.io/eks-charts" },
} satisfies Record<string, PinnedChart>;

/** cluster-autoscaler's minor must match the cluster's (its scheduler simulation is the cluster's). */
export const CLUSTER_AUTOSCALER_IMAGE_TAGS: Record<string, string> = { "1.35": "v1.35.2" };
