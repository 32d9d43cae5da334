import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { CHARTS, CLUSTER_AUTOSCALER_IMAGE_TAGS } from "../../components/gpu/chart-versions";
import { KUBE_STATE_METRICS_CHART } from "../../components/monitoring/kube-state-metrics";
import { EKS_ADDON_VERSIONS } from "../../components/cloud/aws/addon-versions";
import { MANAGED_POLICIES, PolicyDocument, RESOURCE_WILDCARD_ACTIONS, Statement } from "../../components/cloud/aws/iam-documents";
import { KubernetesRuntime } from "../../components/runtime/kubernetes";
import { loadStackConfig, StackConfigError } from "../../components/config";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BASELINE_FILE, renderBaseline } from "../../scripts/prod-policy-baseline";
import { findingsFor } from "../../scripts/stack-findings";
import { isSecretMarker, readStackConfig, RecordedResource, runProgram } from "../../scripts/mock-engine";
import { isApiObject, prepareSchemas, schemaProblem } from "./kubernetes-objects";
import { runStack, StackView, view } from "./stack-run";

let prod: StackView;
let existing: StackView;
const existingConfig = (): Record<string, string> => {
  const config = readStackConfig("prod");
  config["fundament:cluster"] = JSON.stringify({ mode: "existing" });
  delete config["fundament:gpu"];
  return config;
};

beforeAll(async () => {
  prod = await runStack("prod");
  existing = await runStack("prod", existingConfig());
  await prepareSchemas([...prod.resources, ...existing.resources].filter(isApiObject));
}, 300_000);

type Props = Record<string, unknown>;
const props = (r: RecordedResource): Props => prod.revealed(r);
const named = (type: string): string[] => prod.all(type).map((r) => r.name).sort();

describe("prod from an empty AWS account: network", () => {
  it("builds a VPC over the three configured zones with a public and a private subnet in each", () => {
    expect(prod.all("aws:ec2/vpc:Vpc")).toHaveLength(1);
    const subnets = prod.all("aws:ec2/subnet:Subnet").map(props);
    expect(subnets).toHaveLength(6);
    expect(new Set(subnets.map((s) => s.availabilityZone))).toEqual(new Set(["eu-central-1a", "eu-central-1b", "eu-central-1c"]));
    const tags = (s: Props) => s.tags as Record<string, string>;
    const publicSubnets = subnets.filter((s) => tags(s)["kubernetes.io/role/elb"] === "1");
    const privateSubnets = subnets.filter((s) => tags(s)["kubernetes.io/role/internal-elb"] === "1");
    expect(publicSubnets).toHaveLength(3);
    expect(privateSubnets).toHaveLength(3);
    for (const subnet of subnets) {
      expect(tags(subnet)["kubernetes.io/cluster/fundament-prod"]).toBe("shared");
      expect(subnet.mapPublicIpOnLaunch).toBe(false);
    }
  });

  it("routes each private subnet through the NAT gateway of its own zone (perZone) or one shared", async () => {
    expect(prod.all("aws:ec2/natGateway:NatGateway")).toHaveLength(3);
    const natOf = (run: StackView) => new Set(run.all("aws:ec2/route:Route").map((r) => run.revealed(r).natGatewayId).filter(Boolean));
    expect(natOf(prod).size).toBe(3);
    const config = readStackConfig("prod");
    const cluster = JSON.parse(config["fundament:cluster"]) as Record<string, unknown>;
    config["fundament:cluster"] = JSON.stringify({ ...cluster, natGateways: "shared" });
    const shared = await runStack("prod", config);
    expect(shared.all("aws:ec2/natGateway:NatGateway")).toHaveLength(1);
    expect(natOf(shared).size).toBe(1);
  }, 120_000);

  it("has an S3 gateway endpoint, interface endpoints for ECR, STS and CloudWatch Logs, and flow logs", () => {
    const endpoints = prod.all("aws:ec2/vpcEndpoint:VpcEndpoint").map(props);
    const byService = Object.fromEntries(endpoints.map((e) => [String(e.serviceName).replace("com.amazonaws.eu-central-1.", ""), e]));
    expect(Object.keys(byService).sort()).toEqual(["ecr.api", "ecr.dkr", "logs", "s3", "sts"]);
    expect(byService.s3.vpcEndpointType).toBe("Gateway");
    for (const name of ["ecr.api", "ecr.dkr", "logs", "sts"]) expect(byService[name]).toMatchObject({ vpcEndpointType: "Interface", privateDnsEnabled: true });
    const flowLog = props(prod.all("aws:ec2/flowLog:FlowLog")[0]);
    expect(flowLog).toMatchObject({ trafficType: "ALL", logDestinationType: "cloud-watch-logs" });
  });

  it("admits the internet only to the gateway's load balancer, on 80 and 443", () => {
    const rules = prod.all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map(props);
    const world = rules.filter((r) => r.cidrIpv4 === "0.0.0.0/0" || r.cidrIpv6 === "::/0");
    expect(world.map((r) => r.fromPort).sort()).toEqual([443, 80]);
    for (const rule of rules.filter((r) => !world.includes(r))) expect(rule.cidrIpv4).toBe("10.40.0.0/16");
  });
});

describe("prod from an empty AWS account: EKS", () => {
  it("pins the Kubernetes version, keeps the endpoint private but for the listed CIDRs, and logs the control plane", () => {
    const cluster = props(prod.one("aws:eks/cluster:Cluster", "cluster-cluster"));
    expect(cluster.version).toBe("1.35");
    expect(cluster.vpcConfig).toMatchObject({ endpointPrivateAccess: true, endpointPublicAccess: true, publicAccessCidrs: ["203.0.113.0/24"] });
    expect(cluster.enabledClusterLogTypes).toEqual(["api", "audit", "authenticator", "controllerManager", "scheduler"]);
    expect(cluster.accessConfig).toMatchObject({ authenticationMode: "API" });
  });

  it("envelope-encrypts Secrets with a KMS key that rotates", () => {
    const cluster = props(prod.one("aws:eks/cluster:Cluster", "cluster-cluster"));
    const key = prod.one("aws:kms/key:Key", "cluster-key");
    expect(props(key).enableKeyRotation).toBe(true);
    expect(cluster.encryptionConfig).toEqual({ resources: ["secrets"], provider: { keyArn: `arn:aws:kms:eu-central-1:123456789012:key/cluster-key` } });
  });

  it("gives the configured admins cluster-admin through access entries", () => {
    const entries = prod.all("aws:eks/accessEntry:AccessEntry").map(props);
    expect(entries.map((e) => e.principalArn)).toEqual(["arn:aws:iam::123456789012:role/platform-admin"]);
    expect(props(prod.all("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")[0])).toMatchObject({
      policyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
      accessScope: { type: "cluster" },
    });
  });

  it("pins add-ons and the autoscaler image per Kubernetes minor, each built for that minor", () => {
    // kube-proxy and cluster-autoscaler track the control plane's minor; a table row whose pins
    // name another minor is a copy-paste left from the last upgrade.
    expect(Object.keys(CLUSTER_AUTOSCALER_IMAGE_TAGS).sort()).toEqual(Object.keys(EKS_ADDON_VERSIONS).sort());
    for (const [minor, addons] of Object.entries(EKS_ADDON_VERSIONS)) {
      expect(addons["kube-proxy"]).toMatch(new RegExp(`^v${minor.replace(".", "\\.")}\\.\\d+-eksbuild\\.\\d+$`));
      expect(CLUSTER_AUTOSCALER_IMAGE_TAGS[minor]).toMatch(new RegExp(`^v${minor.replace(".", "\\.")}\\.\\d+$`));
      for (const version of Object.values(addons)) expect(version).toMatch(/^v\d+\.\d+\.\d+-eksbuild\.\d+$/);
    }
  });

  it("installs the five managed add-ons at the versions pinned for the cluster's Kubernetes", () => {
    const addons = Object.fromEntries(prod.all("aws:eks/addon:Addon").map(props).map((a) => [a.addonName, a.addonVersion]));
    expect(addons).toEqual(EKS_ADDON_VERSIONS["1.35"]);
  });

  it("turns on the CNI's network policy agent, without which the zones' NetworkPolicies would be enforced by nothing", () => {
    const cni = props(prod.all("aws:eks/addon:Addon").find((a) => props(a).addonName === "vpc-cni")!);
    expect(JSON.parse(String(cni.configurationValues))).toEqual({ enableNetworkPolicy: "true" });
    expect(prod.all("kubernetes:networking.k8s.io/v1:NetworkPolicy").length).toBeGreaterThan(3);
  });

  it("runs a system node group on AL2023 from a launch template with IMDSv2 and an encrypted gp3 root", () => {
    const system = props(prod.one("aws:eks/nodeGroup:NodeGroup", "cluster-system"));
    expect(system).toMatchObject({ amiType: "AL2023_x86_64_STANDARD", capacityType: "ON_DEMAND", version: "1.35", scalingConfig: { minSize: 3, maxSize: 6, desiredSize: 3 } });
    expect(system.taints).toBeUndefined();
    for (const template of prod.all("aws:ec2/launchTemplate:LaunchTemplate").map(props)) {
      expect(template.metadataOptions).toMatchObject({ httpTokens: "required" });
      expect((template.blockDeviceMappings as Props[])[0].ebs).toMatchObject({ volumeType: "gp3", encrypted: "true", kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/cluster-key" });
    }
  });

  it("has a default gp3 StorageClass encrypted with the platform key that allows volume expansion, used by every claim", () => {
    const storageClass = props(prod.one("kubernetes:storage.k8s.io/v1:StorageClass", "cluster-gp3-encrypted"));
    expect(storageClass).toMatchObject({
      metadata: { name: "gp3-encrypted", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "ebs.csi.aws.com",
      parameters: { type: "gp3", encrypted: "true", kmsKeyId: "arn:aws:kms:eu-central-1:123456789012:key/cluster-key" },
      allowVolumeExpansion: true,
    });
    for (const set of prod.all("kubernetes:apps/v1:StatefulSet")) {
      for (const claim of (props(set).spec as { volumeClaimTemplates: { spec: { storageClassName: string } }[] }).volumeClaimTemplates) {
        expect(claim.spec.storageClassName, set.name).toBe("gp3-encrypted");
      }
    }
  });

  it("sends every Kubernetes object of the platform through the provider of the new cluster", () => {
    const provider = prod.one("pulumi:providers:kubernetes", "cluster-kubernetes");
    const kubeconfig = JSON.parse(String((provider.inputs.kubeconfig as { value: string }).value)) as { clusters: { cluster: { server: string } }[] };
    expect(kubeconfig.clusters[0].cluster.server).toMatch(/eks\.amazonaws\.com$/);
    const kubernetes = prod.resources.filter((r) => r.type.startsWith("kubernetes:"));
    expect(kubernetes.length).toBeGreaterThan(80);
    const elsewhere = kubernetes.filter((r) => !r.provider?.startsWith(`${provider.urn}::`)).map((r) => `${r.type} ${r.name}`);
    expect(elsewhere).toEqual([]);
  });

  it("outputs cluster name, endpoint, OIDC issuer, the kubeconfig as a secret, and each GPU pool's limits", () => {
    const cluster = prod.outputs.cluster as Record<string, unknown>;
    expect(cluster.name).toBe("fundament-prod");
    expect(String(cluster.endpoint)).toMatch(/^https:\/\//);
    expect(String(cluster.oidcIssuer)).toMatch(/^https:\/\/oidc\.eks\./);
    expect(isSecretMarker(cluster)).toBe(false);
    expect(isSecretMarker(prod.outputs.kubeconfig)).toBe(true);
    expect(prod.outputs.gpuPools).toEqual([
      expect.objectContaining({ name: "a10g", minSize: 0, maxSize: 4, capacity: "ON_DEMAND" }),
      expect.objectContaining({ name: "l4-spot", minSize: 0, maxSize: 8, capacity: "SPOT" }),
    ]);
  });
});

describe("GPU node pools, charts, quotas and autoscaling", () => {
  it("builds each GPU pool from zero on the NVIDIA AMI, tainted, labelled, and tagged for scale-from-zero", () => {
    const pool = props(prod.one("aws:eks/nodeGroup:NodeGroup", "gpu-pools-a10g"));
    expect(pool).toMatchObject({
      amiType: "AL2023_x86_64_NVIDIA",
      instanceTypes: ["g5.xlarge", "g5.2xlarge"],
      scalingConfig: { minSize: 0, desiredSize: 0, maxSize: 4 },
      taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }],
      labels: { "nvidia.com/gpu.present": "true", "fundament.io/gpu-pool": "a10g", "fundament.io/gpu-model": "a10g" },
    });
    expect(props(prod.one("aws:eks/nodeGroup:NodeGroup", "gpu-pools-l4-spot")).capacityType).toBe("SPOT");
    const asgTags = prod.all("aws:autoscaling/tag:Tag").map(props).filter((t) => t.autoscalingGroupName === "eks-gpu-a10g-asg").map((t) => t.tag);
    expect(asgTags).toEqual(
      expect.arrayContaining([
        { key: "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu", value: "1", propagateAtLaunch: false },
        { key: "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu", value: "true:NoSchedule", propagateAtLaunch: false },
        { key: "k8s.io/cluster-autoscaler/node-template/label/fundament.io/gpu-pool", value: "a10g", propagateAtLaunch: false },
      ]),
    );
  });

  it("installs the maintainers' charts pinned by version, the GPU agents on GPU nodes only", () => {
    const releases = Object.fromEntries(prod.all("kubernetes:helm.sh/v3:Release").map(props).map((r) => [r.chart, r]));
    // kube-state-metrics is the monitoring layer's add-on (components/monitoring/kube-state-metrics.ts).
    const pinned = [...Object.values(CHARTS), KUBE_STATE_METRICS_CHART];
    expect(Object.keys(releases).sort()).toEqual(pinned.map((c) => c.chart).sort());
    for (const chart of pinned) expect(releases[chart.chart]).toMatchObject({ version: chart.version, repositoryOpts: { repo: chart.repo } });
    for (const agent of ["nvidia-device-plugin", "dcgm-exporter"]) {
      expect(releases[agent].values).toMatchObject({ nodeSelector: { "nvidia.com/gpu.present": "true" }, tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] });
    }
    expect(releases["cluster-autoscaler"].values).toMatchObject({ autoDiscovery: { clusterName: "fundament-prod" }, awsRegion: "eu-central-1", image: { tag: "v1.35.2" } });
    expect(releases.vpa.values).toMatchObject({ updater: { enabled: false }, admissionController: { enabled: false } });
  });

  it("has priority classes, a quota with GPUs and a LimitRange per namespace, an HPA per service and a VPA per stateful workload", () => {
    expect(prod.all("kubernetes:scheduling.k8s.io/v1:PriorityClass").map((p) => (props(p).metadata as { name: string }).name).sort()).toEqual([
      "fundament-gpu-batch",
      "fundament-platform-critical",
      "fundament-services",
    ]);
    const quotas = Object.fromEntries(prod.all("kubernetes:core/v1:ResourceQuota").map(props).map((q) => [(q.metadata as { namespace: string }).namespace, (q.spec as { hard: Record<string, string> }).hard]));
    expect(quotas["fundament-prod"]["requests.nvidia.com/gpu"]).toBe("0");
    // a10g: 4 nodes x 1 GPU, l4-spot: 8 x 1.
    expect(quotas["fundament-gpu"]["requests.nvidia.com/gpu"]).toBe("12");
    expect(named("kubernetes:core/v1:LimitRange")).toEqual(["scheduling-gpu-limits", "scheduling-platform-limits"]);
    const hpas = prod.all("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").map(props);
    expect(hpas.map((h) => (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name).sort()).toEqual(["config", "gpu-jobs", "users"]);
    for (const hpa of hpas) expect(hpa.spec).toMatchObject({ minReplicas: 3, maxReplicas: 12, metrics: [{ resource: { name: "cpu" } }, { resource: { name: "memory" } }] });
    // The HPA owns the count: a Deployment that also sets spec.replicas is scaled back to it by
    // every `pulumi up`, dropping the pods the autoscaler added under load.
    const deployments = prod.all("kubernetes:apps/v1:Deployment").map(props);
    for (const hpa of hpas) {
      const target = (hpa.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name;
      const deployment = deployments.find((d) => (d.metadata as { name: string }).name === target);
      expect(deployment, target).toBeDefined();
      expect((deployment?.spec as Record<string, unknown>).replicas, target).toBeUndefined();
    }
    for (const set of prod.all("kubernetes:apps/v1:StatefulSet").map(props)) expect((set.spec as { replicas?: number }).replicas).toBeGreaterThanOrEqual(1);
    const vpas = prod.all("kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler").map(props);
    expect(vpas.map((v) => (v.spec as { targetRef: { name: string } }).targetRef.name).sort()).toEqual(["minio", "mongo", "postgres", "rabbitmq", "redis"]);
    for (const vpa of vpas) expect(vpa.spec).toMatchObject({ updatePolicy: { updateMode: "Off" } });
  });
});

describe("AWS Load Balancer Controller: the gateway's NLB", () => {
  const controller = (): RecordedResource => prod.all("kubernetes:helm.sh/v3:Release").find((r) => props(r).chart === "aws-load-balancer-controller")!;
  const gatewayService = (run: StackView): RecordedResource =>
    run.all("kubernetes:core/v1:Service").find((s) => (run.revealed(s).spec as { type?: string }).type === "LoadBalancer")!;

  it("installs the maintainers' chart, pinned, on the system group, told this cluster's name, region and VPC", () => {
    const release = props(controller());
    expect(release).toMatchObject({ chart: "aws-load-balancer-controller", version: CHARTS.awsLoadBalancerController.version, repositoryOpts: { repo: "https://aws.github.io/eks-charts" }, namespace: "kube-system" });
    // The mock engine gives each resource the id "<name>-id".
    const vpcId = "cluster-vpc-id";
    expect(release.values).toMatchObject({
      clusterName: "fundament-prod",
      region: "eu-central-1",
      vpcId,
      nodeSelector: { "fundament.io/node-role": "system" },
      enableServiceMutatorWebhook: false,
    });
    const system = props(prod.one("aws:eks/nodeGroup:NodeGroup", "cluster-system"));
    const gpuGroups = prod.all("aws:eks/nodeGroup:NodeGroup").map(props).filter((g) => g.amiType === "AL2023_x86_64_NVIDIA");
    const pod = release.values as PodSpecView;
    expect(schedulable({ ...pod, containers: [] }, system)).toBe(true);
    for (const group of gpuGroups) expect(schedulable({ ...pod, containers: [] }, group), String(group.nodeGroupName)).toBe(false);
  });

  it("starts the controller only once its Pod Identity association exists, so its pods get credentials", () => {
    const association = prod.all("aws:eks/podIdentityAssociation:PodIdentityAssociation").find((a) => props(a).serviceAccount === "aws-load-balancer-controller")!;
    expect(controller().dependencies).toContain(association.urn);
  });

  it("creates the gateway's LoadBalancer Service after the controller and so deletes it before (its finalizer needs the controller)", () => {
    const service = gatewayService(prod);
    const annotations = (props(service).metadata as { annotations: Record<string, string> }).annotations;
    expect(annotations["service.beta.kubernetes.io/aws-load-balancer-type"]).toBe("external");
    expect(annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"]).toBe("ip");
    expect(service.dependencies).toContain(controller().urn);
    // The other Services do not wait for it: with the mutating webhook off, nothing else needs the controller.
    const others = prod.all("kubernetes:core/v1:Service").filter((s) => s !== service);
    expect(others.filter((s) => s.dependencies.includes(controller().urn)).map((s) => s.name)).toEqual([]);
    // On a cluster someone else runs, the Service has no controller of ours to wait for.
    expect(gatewayService(existing).dependencies.filter((urn) => urn.includes("helm.sh"))).toEqual([]);
  });

  it("grants the published policy's actions, no more and no fewer, held to this cluster's tag, region, account and VPC", () => {
    const published = JSON.parse(readFileSync(join(__dirname, `../fixtures/iam/aws-load-balancer-controller-v${CHARTS.awsLoadBalancerController.version}.json`), "utf8")) as { actions: string[] };
    const policy = prod.all("aws:iam/rolePolicy:RolePolicy").find((p) => p.name === "cluster-charts-aws-load-balancer-controller-pod")!;
    expect(policy).toBeDefined();
    const document = parse(props(policy).policy);
    const actions = new Set(document.Statement.flatMap((st) => list(st.Action)));
    expect([...actions].sort()).toEqual([...published.actions].sort());
    const problems: string[] = [];
    for (const statement of document.Statement) {
      for (const resource of list(statement.Resource)) {
        if (resource !== "*" && !/^arn:aws:(ec2|elasticloadbalancing):eu-central-1:123456789012:/.test(resource)) problems.push(`${statement.Sid}: ${resource}`);
      }
      for (const [operator, entries] of Object.entries(statement.Condition ?? {})) {
        for (const [key, value] of Object.entries(entries)) {
          // Null "true" on the request tag means "does not touch the tag"; every other use of the tag must name this cluster.
          if (key.endsWith("/elbv2.k8s.aws/cluster") && !(operator === "Null" && value === "true") && !(operator === "StringEquals" && value === "fundament-prod")) problems.push(`${statement.Sid}: ${operator} ${key}`);
        }
      }
    }
    expect(problems).toEqual([]);
    const vpcArn = "arn:aws:ec2:eu-central-1:123456789012:vpc/cluster-vpc-id";
    const unowned = document.Statement.filter((st) => list(st.Action).includes("ec2:AuthorizeSecurityGroupIngress") && !JSON.stringify(st.Condition ?? {}).includes("elbv2.k8s.aws/cluster"));
    expect(unowned.map((st) => st.Condition)).toEqual([{ ArnEquals: { "ec2:Vpc": vpcArn } }]);
  });
});

const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const parse = (text: unknown): PolicyDocument => JSON.parse(String(text)) as PolicyDocument;

describe("IAM: least privilege, and every trust policy names its principal and conditions", () => {
  it("parses every policy document; no wildcard action, and Resource * only for the documented actions", () => {
    const policies = [...prod.all("aws:iam/rolePolicy:RolePolicy"), ...prod.all("aws:iam/policy:Policy"), ...prod.all("aws:iam/userPolicy:UserPolicy")];
    expect(policies.length).toBeGreaterThanOrEqual(4);
    const problems: string[] = [];
    for (const policy of policies) {
      const document = parse(props(policy).policy);
      expect(document.Version, policy.name).toBe("2012-10-17");
      for (const statement of document.Statement) {
        for (const action of list(statement.Action)) if (action.includes("*")) problems.push(`${policy.name}: action ${action}`);
        if (list(statement.Resource).includes("*")) {
          for (const action of list(statement.Action)) if (!RESOURCE_WILDCARD_ACTIONS[action]) problems.push(`${policy.name}: ${action} on Resource *`);
        }
        expect(statement.Principal, policy.name).toBeUndefined();
      }
    }
    expect(problems).toEqual([]);
  });

  it("attaches only the documented AWS managed policies", () => {
    const attached = prod.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((a) => String(props(a).policyArn));
    // Cluster role 1, node role 3, vpc-cni and EBS CSI pod roles 1 each.
    expect(attached).toHaveLength(6);
    expect(attached.filter((arn) => !MANAGED_POLICIES[arn])).toEqual([]);
  });

  it("keeps kms:* in the key policy to the account root, the key's administrative anchor", () => {
    const document = parse(props(prod.one("aws:kms/key:Key", "cluster-key")).policy);
    for (const statement of document.Statement) {
      if (list(statement.Action).some((a) => a.includes("*"))) expect(statement.Principal).toEqual({ AWS: "arn:aws:iam::123456789012:root" });
      expect(statement.Principal?.AWS ?? statement.Principal?.Service, statement.Sid).not.toBe("*");
    }
  });

  it("restricts every role's trust to one named principal, and pod roles to their cluster, namespace and service account", () => {
    const roles = prod.all("aws:iam/role:Role");
    const podRoles: Statement[] = [];
    for (const role of roles) {
      const statements = parse(props(role).assumeRolePolicy).Statement;
      expect(statements, role.name).toHaveLength(1);
      const [trust] = statements;
      expect(Object.keys(trust.Principal ?? {}), role.name).toEqual(["Service"]);
      const service = String(trust.Principal!.Service);
      expect(["eks.amazonaws.com", "ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com", "pods.eks.amazonaws.com"], role.name).toContain(service);
      if (service === "vpc-flow-logs.amazonaws.com") expect(trust.Condition).toEqual({ StringEquals: { "aws:SourceAccount": "123456789012" } });
      if (service === "pods.eks.amazonaws.com") podRoles.push(trust);
    }
    const bound = podRoles.map((trust) => {
      expect(trust.Condition?.ArnEquals).toEqual({ "aws:SourceArn": "arn:aws:eks:eu-central-1:123456789012:cluster/fundament-prod" });
      const equals = trust.Condition!.StringEquals;
      return `${String(equals["aws:RequestTag/kubernetes-namespace"])}/${String(equals["aws:RequestTag/kubernetes-service-account"])}`;
    });
    // Every add-on that calls AWS: the CNI assigns addresses, the CSI driver makes volumes, the autoscaler resizes groups,
    // the load balancer controller builds the gateway's NLB.
    expect(bound.sort()).toEqual(["kube-system/aws-load-balancer-controller", "kube-system/aws-node", "kube-system/cluster-autoscaler", "kube-system/ebs-csi-controller-sa"]);
  });

  it("binds each pod role to the service account its trust policy names", () => {
    const addons: Record<string, { serviceAccount: string }[] | undefined> = Object.fromEntries(
      prod.all("aws:eks/addon:Addon").map(props).map((a) => [String(a.addonName), a.podIdentityAssociations as { serviceAccount: string }[] | undefined]),
    );
    expect(addons["vpc-cni"]?.map((a) => a.serviceAccount)).toEqual(["aws-node"]);
    expect(addons["aws-ebs-csi-driver"]?.map((a) => a.serviceAccount)).toEqual(["ebs-csi-controller-sa"]);
    expect(prod.all("aws:eks/podIdentityAssociation:PodIdentityAssociation").map(props)).toEqual([
      expect.objectContaining({ clusterName: "fundament-prod", namespace: "kube-system", serviceAccount: "cluster-autoscaler" }),
      expect.objectContaining({ clusterName: "fundament-prod", namespace: "kube-system", serviceAccount: "aws-load-balancer-controller" }),
    ]);
    const releases = Object.fromEntries(prod.all("kubernetes:helm.sh/v3:Release").map(props).map((r) => [r.chart, r.values as Props]));
    expect(releases["cluster-autoscaler"].rbac).toMatchObject({ serviceAccount: { create: true, name: "cluster-autoscaler" } });
    expect(releases["aws-load-balancer-controller"].serviceAccount).toEqual({ create: true, name: "aws-load-balancer-controller" });
  });
});

interface PodSpecView {
  tolerations?: { key?: string; operator?: string; effect?: string }[];
  nodeSelector?: Record<string, string>;
  affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: { matchExpressions: { key: string; operator: string; values?: string[] }[] }[] } } };
  containers: { resources: { limits: Record<string, string> } }[];
  priorityClassName?: string;
}

/** The scheduler's filter for a pod against a node group: taints tolerated, selector and required affinity matched. */
function schedulable(pod: PodSpecView, group: Props): boolean {
  const labels = (group.labels ?? {}) as Record<string, string>;
  const effects: Record<string, string> = { NO_SCHEDULE: "NoSchedule", NO_EXECUTE: "NoExecute", PREFER_NO_SCHEDULE: "PreferNoSchedule" };
  const taints = ((group.taints ?? []) as { key: string; effect: string }[]).filter((t) => t.effect !== "PREFER_NO_SCHEDULE");
  const tolerated = taints.every((taint) => (pod.tolerations ?? []).some((t) => (t.key === taint.key || (t.key === undefined && t.operator === "Exists")) && (t.effect === undefined || t.effect === effects[taint.effect])));
  const selected = Object.entries(pod.nodeSelector ?? {}).every(([k, v]) => labels[k] === v);
  const terms = pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  const affine = !terms || terms.some((term) => term.matchExpressions.every((e) => (e.operator === "In" ? e.values!.includes(labels[e.key]) : e.operator === "Exists" ? e.key in labels : false)));
  return tolerated && selected && affine;
}

describe("GPU scheduling", () => {
  let pods: Record<string, PodSpecView>;
  beforeAll(async () => {
    const run = view(
      await runProgram("prod", {}, async () => {
        const parent = new pulumi.ComponentResource("test:index:Host", "host");
        const runtime = new KubernetesRuntime({ environment: "prod", namespace: "fundament-gpu" });
        const base = { image: "ghcr.io/fundament/train:1.0.0", zones: ["backend" as const], resources: { cpu: 4, memoryMiB: 16384 }, stopGracePeriodSeconds: 30, user: { uid: 1000, gid: 1000 } };
        runtime.run({ ...base, name: "train", role: "job", gpu: { count: 1, pool: "a10g" } }, { parent });
        runtime.run({ ...base, name: "any-gpu", role: "job", gpu: { count: 2 } }, { parent });
        runtime.run({ ...base, name: "cpu-only", role: "job" }, { parent });
        return {};
      }),
    );
    pods = Object.fromEntries(run.all("kubernetes:batch/v1:Job").map((job) => [job.name, (run.revealed(job).spec as { template: { spec: PodSpecView } }).template.spec]));
  });

  it("renders a GPU request as nvidia.com/gpu limits, the GPU toleration, GPU node affinity and the preemptible batch class", () => {
    const train = pods.train;
    expect(train.containers[0].resources.limits["nvidia.com/gpu"]).toBe("1");
    expect(train.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    expect(train.priorityClassName).toBe("fundament-gpu-batch");
    expect(pods["any-gpu"].containers[0].resources.limits["nvidia.com/gpu"]).toBe("2");
  });

  it("lands a GPU job only on GPU nodes (of its pool when it names one), and a non-GPU job on none of them", () => {
    const groups = Object.fromEntries(prod.all("aws:eks/nodeGroup:NodeGroup").map((g) => [String(props(g).nodeGroupName), props(g)]));
    expect(Object.keys(groups).sort()).toEqual(["gpu-a10g", "gpu-l4-spot", "system"]);
    const fits = (pod: PodSpecView) => Object.entries(groups).filter(([, g]) => schedulable(pod, g)).map(([name]) => name).sort();
    expect(fits(pods.train)).toEqual(["gpu-a10g"]);
    expect(fits(pods["any-gpu"])).toEqual(["gpu-a10g", "gpu-l4-spot"]);
    expect(fits(pods["cpu-only"])).toEqual(["system"]);
    expect(pods["cpu-only"].tolerations).toBeUndefined();
  });

  it("keeps every pod of the prod stack that asks for no GPU off the GPU nodes", () => {
    const gpuGroups = prod.all("aws:eks/nodeGroup:NodeGroup").map(props).filter((g) => g.amiType === "AL2023_x86_64_NVIDIA");
    const controllers = prod.resources.filter((r) => ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"].includes(r.type));
    expect(controllers.length).toBeGreaterThan(10);
    for (const controller of controllers) {
      const pod = (props(controller).spec as { template: { spec: PodSpecView } }).template.spec;
      for (const group of gpuGroups) expect(schedulable(pod, group), `${controller.name} on ${String(group.nodeGroupName)}`).toBe(false);
    }
  });
});

describe("Kubernetes objects against the OpenAPI schema, unknown fields rejected", () => {
  it.each([
    ["prod (EKS)", () => prod],
    ["prod (existing cluster)", () => existing],
  ])("%s emits only valid objects", (_, run) => {
    const objects = run().resources.filter(isApiObject);
    expect(objects.length).toBeGreaterThan(50);
    const problems = objects.map((r) => [`${r.type} ${r.name}`, schemaProblem(r, run().revealed(r))]).filter(([, p]) => p !== undefined);
    expect(problems).toEqual([]);
  });

  it("rejects a misspelt field anywhere in an object", () => {
    const users = prod.one("kubernetes:apps/v1:Deployment", "users");
    const inputs = structuredClone(prod.revealed(users)) as { spec: { template: { spec: { containers: Props[] } } } };
    const container = inputs.spec.template.spec.containers[0];
    container.readinesProbe = container.readinessProbe;
    delete container.readinessProbe;
    expect(schemaProblem(users, inputs as unknown as Props)).toContain("spec.template.spec.containers[0].readinesProbe: unknown field");
  });
});

describe("the policy pack on the cloud resources", () => {
  it("judges the fixtures' baseline as the prod stack registers it (regenerate: npx tsx scripts/prod-policy-baseline.ts)", () => {
    expect(readFileSync(BASELINE_FILE, "utf8")).toBe(renderBaseline(prod));
  });

  it("has no mandatory finding on prod in existing-cluster mode either", async () => {
    expect((await findingsFor(existing)).filter((f) => f.enforcement === "mandatory")).toEqual([]);
  });
});

describe("existing-cluster mode", () => {
  it("renders the platform with no AWS resource but ECR, through the kubeconfig's cluster", () => {
    const aws = existing.resources.filter((r) => r.type.startsWith("aws:")).map((r) => r.type);
    expect(new Set(aws)).toEqual(new Set(["aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy"]));
    expect(existing.all("pulumi:providers:kubernetes")).toEqual([]);
    expect(existing.all("kubernetes:helm.sh/v3:Release")).toEqual([]);
    for (const name of ["postgres", "redis", "mongo", "rabbitmq"]) existing.one("kubernetes:apps/v1:StatefulSet", name);
    expect(existing.all("kubernetes:scheduling.k8s.io/v1:PriorityClass")).toHaveLength(3);
    expect(existing.outputs.cluster).toBeUndefined();
  });
});

describe("cluster config", () => {
  const load = (cluster: Record<string, unknown>, extra: Record<string, string> = {}) => {
    const config = readStackConfig("prod");
    config["fundament:cluster"] = JSON.stringify({ ...(JSON.parse(config["fundament:cluster"]) as Props), ...cluster });
    return () => loadStackConfig("prod", { ...config, ...extra });
  };

  it("refuses an EKS cluster without zones, an API open to the world, and GPU pools without EKS, naming each key", () => {
    expect(load({ availabilityZones: [] })).toThrow(/fundament:cluster\.availabilityZones: EKS needs subnets in at least 2 zones/);
    expect(load({ publicAccessCidrs: ["0.0.0.0/0"] })).toThrow(/fundament:cluster\.publicAccessCidrs: 0\.0\.0\.0\/0 opens the API/);
    expect(load({ mode: "existing" })).toThrow(/fundament:gpu\.pools: node pools are built only with fundament:cluster\.mode eks/);
    expect(load({ logRetentionDays: 10 })).toThrow(StackConfigError);
  });

  it("refuses a Kubernetes version with no pinned add-ons or autoscaler image, naming the pinned ones", () => {
    expect(load({ kubernetesVersion: "1.33" })).toThrow(/fundament:cluster\.kubernetesVersion: no add-on versions and cluster-autoscaler image are pinned for 1\.33 \(pinned: 1\.35\)/);
  });

  it("registers nothing when the cluster config is invalid", async () => {
    const config = readStackConfig("prod");
    config["fundament:cluster"] = JSON.stringify({ mode: "eks", availabilityZones: ["eu-central-1a"] });
    const failure = await runStack("prod", config).catch((error: unknown) => error as { registered: RecordedResource[] });
    expect(failure).toBeInstanceOf(StackConfigError);
    expect((failure as { registered: RecordedResource[] }).registered.filter((r) => !r.type.startsWith("pulumi:"))).toEqual([]);
  });
});

describe("pods that call the Kubernetes API reach it, and only they", () => {
  type Pod = { name: string; labels: Record<string, string>; serviceAccount?: string };
  const podsOf = (run: StackView): Pod[] =>
    [...run.all("kubernetes:apps/v1:Deployment"), ...run.all("kubernetes:apps/v1:StatefulSet")].map((r) => {
      const spec = run.revealed(r).spec as { template: { metadata: { labels: Record<string, string> }; spec: { serviceAccountName?: string } } };
      return { name: r.name, labels: spec.template.metadata.labels, serviceAccount: spec.template.spec.serviceAccountName };
    });
  const apiPolicy = (run: StackView) => {
    const policy = run.all("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((r) => run.revealed(r)).find((p) => (p.metadata as { name: string }).name === "allow-kubernetes-api");
    expect(policy).toBeDefined();
    return policy?.spec as { podSelector: { matchLabels: Record<string, string> }; egress: { to: { ipBlock: { cidr: string } }[]; ports: { port: number }[] }[] };
  };
  const selects = (selector: Record<string, string>, pod: Pod) => Object.entries(selector).every(([k, v]) => pod.labels[k] === v);

  it("selects exactly the pods that run as a ServiceAccount (Prometheus discovering pods, gpu-jobs launching Jobs)", () => {
    const { podSelector } = apiPolicy(prod);
    const pods = podsOf(prod);
    expect(pods.filter((p) => selects(podSelector.matchLabels, p)).map((p) => p.name).sort()).toEqual(pods.filter((p) => p.serviceAccount !== undefined).map((p) => p.name).sort());
    expect(pods.filter((p) => p.serviceAccount !== undefined).map((p) => p.name).sort()).toEqual(["gpu-jobs", "prometheus"]);
  });

  it("on the EKS cluster it built: the private endpoint's VPC range and the Service range the cluster states, port 443 only", () => {
    const cluster = props(prod.all("aws:eks/cluster:Cluster")[0]);
    const serviceRange = (cluster.kubernetesNetworkConfig as { serviceIpv4Cidr: string }).serviceIpv4Cidr;
    const vpc = props(prod.all("aws:ec2/vpc:Vpc")[0]).cidrBlock as string;
    // EKS refuses a Service range inside the VPC's.
    expect(serviceRange.split(".")[0]).not.toBe(vpc.split(".")[0]);
    const [rule] = apiPolicy(prod).egress;
    expect(rule.to.map((t) => t.ipBlock.cidr).sort()).toEqual([serviceRange, vpc].sort());
    expect(rule.ports.map((p) => p.port)).toEqual([443]);
  });

  it("on a cluster someone else runs: any address, on the two ports API servers listen on", () => {
    const [rule] = apiPolicy(existing).egress;
    expect(rule.to.map((t) => t.ipBlock.cidr)).toEqual(["0.0.0.0/0"]);
    expect(rule.ports.map((p) => p.port).sort()).toEqual([443, 6443]);
  });

  it("gives Prometheus a Role that lists and watches pods in its namespace and the node agents', and nothing else", () => {
    const namespaceOf = (r: Record<string, unknown>) => (r.metadata as { namespace: string }).namespace;
    const roles = prod.all("kubernetes:rbac.authorization.k8s.io/v1:Role").map(props).filter((r) => (r.metadata as { name: string }).name === "prometheus-discovery");
    expect(roles.map(namespaceOf).sort()).toEqual(["fundament-prod", "fundament-prod-node-agents"]);
    for (const role of roles) expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
    const bindings = prod.all("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").map(props).filter((b) => (b.metadata as { name: string }).name === "prometheus-discovery");
    expect(bindings.map(namespaceOf).sort()).toEqual(["fundament-prod", "fundament-prod-node-agents"]);
    for (const binding of bindings) expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "prometheus", namespace: "fundament-prod" }]);
    expect(podsOf(prod).find((p) => p.name === "prometheus")?.serviceAccount).toBe("prometheus");
  });
});
