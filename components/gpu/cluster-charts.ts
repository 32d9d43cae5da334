import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { EksCluster, SYSTEM_NODE_LABEL } from "../cloud/aws/eks-cluster";
import { clusterAutoscalerPolicy } from "../cloud/aws/iam-documents";
import { loadBalancerControllerPolicy } from "../cloud/aws/load-balancer-controller-policy";
import { GPU_PRESENT_LABEL, GPU_RESOURCE } from "../runtime/kubernetes-pod";
import { CHARTS, CLUSTER_AUTOSCALER_IMAGE_TAGS, PinnedChart } from "./chart-versions";

export interface ClusterChartsArgs {
  cluster: EksCluster;
}

const NAMESPACE = "kube-system";
const AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler";
const LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller";

/** Per-node agents of GPU nodes: on GPU nodes only, tolerating their taint (they request no GPU themselves). */
const GPU_NODES_ONLY = {
  nodeSelector: { [GPU_PRESENT_LABEL]: "true" },
  tolerations: [{ key: GPU_RESOURCE, operator: "Exists", effect: "NoSchedule" }],
};
/** Controllers run on the system group. */
const SYSTEM_NODES = { nodeSelector: { [SYSTEM_NODE_LABEL]: "system" } };

/**
 * The cluster add-ons that come from Helm charts, each pinned: NVIDIA device plugin and DCGM
 * exporter on GPU nodes, cluster-autoscaler (auto-discovery of this cluster's node groups, with its
 * own Pod Identity role), metrics-server for the HPAs, the VPA recommender, and the AWS Load
 * Balancer Controller that turns the gateway's LoadBalancer Service into an NLB.
 *
 * cluster-autoscaler rather than Karpenter: the GPU pools are managed node groups from stack
 * config, which cluster-autoscaler scales as they are (min 0 with node-template tags), with every
 * object visible to the mock engine and the policy pack. Karpenter would replace the groups by
 * NodePools and EC2NodeClasses (CRDs), an interruption queue and its own instance profile.
 */
export class ClusterCharts extends pulumi.ComponentResource {
  readonly releases: Record<keyof typeof CHARTS, k8s.helm.v3.Release>;
  /** What a LoadBalancer Service waits for: the controller that reconciles it (and, on destroy, removes its finalizer). */
  readonly loadBalancerController: k8s.helm.v3.Release;

  constructor(name: string, args: ClusterChartsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:gpu:ClusterCharts", name, {}, opts);
    const { cluster } = args;
    const release = (key: keyof typeof CHARTS, values: pulumi.Inputs, dependsOn: pulumi.Resource[] = []): k8s.helm.v3.Release => {
      const pinned: PinnedChart = CHARTS[key];
      return new k8s.helm.v3.Release(
        `${name}-${pinned.chart}`,
        {
          name: pinned.chart,
          chart: pinned.chart,
          version: pinned.version,
          repositoryOpts: { repo: pinned.repo },
          namespace: NAMESPACE,
          values,
          atomic: true,
          cleanupOnFail: true,
          timeout: 600,
        },
        { parent: this, provider: cluster.provider, dependsOn: [...cluster.ready, ...dependsOn] },
      );
    };

    const autoscalerIdentity = cluster.podIdentity(`${name}-cluster-autoscaler`, {
      namespace: NAMESPACE,
      serviceAccount: AUTOSCALER_SERVICE_ACCOUNT,
      policy: cluster.clusterArn.apply((arn) => JSON.stringify(clusterAutoscalerPolicy(cluster.clusterName, arn))),
    });
    const autoscalerTag = CLUSTER_AUTOSCALER_IMAGE_TAGS[cluster.version];
    if (!autoscalerTag) throw new Error(`fundament:cluster.kubernetesVersion: no cluster-autoscaler image pinned for ${cluster.version}; add it to components/gpu/chart-versions.ts`);

    const controllerIdentity = cluster.podIdentity(`${name}-aws-load-balancer-controller`, {
      namespace: NAMESPACE,
      serviceAccount: LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT,
      policy: pulumi
        .all([cluster.account, cluster.vpcId])
        .apply(([account, vpcId]) => JSON.stringify(loadBalancerControllerPolicy({ clusterName: cluster.clusterName, region: cluster.region, account, vpcId }))),
    });

    this.releases = {
      nvidiaDevicePlugin: release("nvidiaDevicePlugin", { ...GPU_NODES_ONLY, priorityClassName: "system-node-critical" }),
      dcgmExporter: release("dcgmExporter", {
        ...GPU_NODES_ONLY,
        priorityClassName: "system-node-critical",
        // No Prometheus Operator here: the monitoring layer scrapes the annotated pods.
        serviceMonitor: { enabled: false },
        podAnnotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "9400", "prometheus.io/path": "/metrics" },
      }),
      clusterAutoscaler: release(
        "clusterAutoscaler",
        {
          ...SYSTEM_NODES,
          autoDiscovery: { clusterName: cluster.clusterName },
          awsRegion: cluster.region,
          image: { tag: autoscalerTag },
          rbac: { serviceAccount: { create: true, name: AUTOSCALER_SERVICE_ACCOUNT } },
          priorityClassName: "system-cluster-critical",
          extraArgs: { "balance-similar-node-groups": true, "skip-nodes-with-system-pods": false, expander: "least-waste", "scale-down-unneeded-time": "10m" },
        },
        [autoscalerIdentity],
      ),
      metricsServer: release("metricsServer", { ...SYSTEM_NODES, replicas: 2, priorityClassName: "system-cluster-critical" }),
      verticalPodAutoscaler: release("verticalPodAutoscaler", {
        // Recommendation mode: the recommender only; no updater evicts pods, no webhook rewrites them.
        recommender: { enabled: true, ...SYSTEM_NODES },
        updater: { enabled: false },
        admissionController: { enabled: false },
      }),
      awsLoadBalancerController: release(
        "awsLoadBalancerController",
        {
          ...SYSTEM_NODES,
          clusterName: cluster.clusterName,
          // Given rather than introspected from the node's metadata service, which the controller would ask otherwise.
          region: cluster.region,
          vpcId: cluster.vpcId,
          serviceAccount: { create: true, name: LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT },
          // The Service mutator (failurePolicy Fail, every namespace) would make each Service
          // creation in the cluster wait on the controller's pods; the gateway's Service names the
          // controller itself (aws-load-balancer-type: external), which is all the mutator would add.
          enableServiceMutatorWebhook: false,
        },
        [controllerIdentity],
      ),
    };
    this.loadBalancerController = this.releases.awsLoadBalancerController;
    this.registerOutputs({});
  }
}
