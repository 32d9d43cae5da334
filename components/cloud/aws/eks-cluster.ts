import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "../../config";
import { addonVersion, EksAddonName } from "./addon-versions";
import { kmsUsePolicy, platformKeyPolicy, podIdentityTrust, serviceTrust } from "./iam-documents";
import { renderKubeconfig } from "./kubeconfig";
import { nodeLaunchTemplate } from "./node-launch-template";
import { serviceRangeFor } from "./service-range";
import { Vpc } from "./vpc";

export interface EksClusterArgs {
  cluster: ClusterConfig;
  environment: string;
  tags: Record<string, string>;
}

/** The default StorageClass every volume of the platform lands on. */
export const STORAGE_CLASS = "gp3-encrypted";
export const SYSTEM_NODE_LABEL = "fundament.io/node-role";

const CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"];
const ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";

export interface PodRoleArgs {
  namespace: string;
  serviceAccount: string;
  managedPolicies?: string[];
  policy?: pulumi.Input<string>;
}

/**
 * An EKS cluster from an empty account, out of @pulumi/aws resources (what pulumi-eks builds, and
 * what the mock engine can see): platform KMS key (rotating) for Secrets, node volumes and logs;
 * the VPC; the control plane with a private endpoint, a public one only for listed CIDRs, every
 * control-plane log, and access entries for admins; the managed add-ons pinned, each that calls
 * AWS with its own Pod Identity role; a system node group; the default encrypted gp3
 * StorageClass; and the Kubernetes provider every platform object goes through.
 */
export class EksCluster extends pulumi.ComponentResource {
  readonly clusterName: string;
  readonly clusterArn: pulumi.Output<string>;
  readonly endpoint: pulumi.Output<string>;
  readonly oidcIssuer: pulumi.Output<string>;
  readonly kubeconfig: pulumi.Output<string>;
  readonly provider: k8s.Provider;
  readonly region: string;
  readonly account: pulumi.Output<string>;
  readonly kmsKeyArn: pulumi.Output<string>;
  readonly nodeSecurityGroupIds: pulumi.Input<string>[];
  readonly nodeRoleArn: pulumi.Output<string>;
  readonly privateSubnetIds: pulumi.Output<string>[];
  readonly vpcId: pulumi.Output<string>;
  readonly gatewaySecurityGroupId: pulumi.Output<string>;
  readonly storageClassName = STORAGE_CLASS;
  /** Where pods reach the API server: its private endpoint in the VPC, its Service in this range. */
  readonly apiServerCidrs: string[];
  /** What Kubernetes objects wait for: nodes to run on, DNS, storage. */
  readonly ready: pulumi.Resource[];
  private readonly tags: Record<string, string>;
  private readonly kubernetesVersion: string;

  constructor(name: string, args: EksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:cloud:EksCluster", name, {}, opts);
    const parent = { parent: this };
    const config = args.cluster;
    this.clusterName = config.name ?? `fundament-${args.environment}`;
    this.kubernetesVersion = config.kubernetesVersion;
    this.tags = { ...args.tags, "fundament:cluster": this.clusterName };
    const tags = this.tags;
    const serviceRange = serviceRangeFor(config.vpcCidr);
    this.apiServerCidrs = [config.vpcCidr, serviceRange];
    this.region = config.availabilityZones[0].slice(0, -1);
    const identity = aws.getCallerIdentityOutput({}, parent);
    this.account = identity.accountId;

    const key = new aws.kms.Key(
      `${name}-key`,
      {
        description: `fundament ${this.clusterName}: Secrets envelope, node volumes, logs`,
        enableKeyRotation: true,
        rotationPeriodInDays: 365,
        deletionWindowInDays: 30,
        policy: this.account.apply((account) => JSON.stringify(platformKeyPolicy(account, this.region))),
        tags,
      },
      parent,
    );
    new aws.kms.Alias(`${name}-key`, { name: `alias/fundament/${this.clusterName}`, targetKeyId: key.keyId }, parent);
    this.kmsKeyArn = key.arn;

    const vpc = new Vpc(
      `${name}-vpc`,
      {
        clusterName: this.clusterName,
        region: this.region,
        account: this.account,
        availabilityZones: config.availabilityZones,
        cidr: config.vpcCidr,
        natGateways: config.natGateways,
        logRetentionDays: config.logRetentionDays,
        kmsKeyArn: key.arn,
        tags,
      },
      parent,
    );
    this.privateSubnetIds = vpc.privateSubnetIds;
    this.vpcId = vpc.vpcId;

    const clusterRole = new aws.iam.Role(`${name}-cluster`, { assumeRolePolicy: JSON.stringify(serviceTrust("eks.amazonaws.com")), tags }, parent);
    const clusterPolicy = new aws.iam.RolePolicyAttachment(`${name}-cluster`, { role: clusterRole.name, policyArn: "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy" }, parent);
    const clusterKeyUse = new aws.iam.RolePolicy(`${name}-cluster-kms`, { role: clusterRole.id, policy: key.arn.apply((arn) => JSON.stringify(kmsUsePolicy(arn))) }, parent);

    const apiGroup = new aws.ec2.SecurityGroup(`${name}-api`, { vpcId: vpc.vpcId, description: "Kubernetes API from inside the VPC", tags: { ...tags, Name: `${name}-api` } }, parent);
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-api-https`,
      { securityGroupId: apiGroup.id, description: "Kubernetes API from the VPC (private endpoint)", ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: config.vpcCidr },
      parent,
    );

    // EKS would create this group itself with no expiry; created first, it keeps the configured retention and key.
    const logGroup = new aws.cloudwatch.LogGroup(
      `${name}-control-plane-logs`,
      { name: `/aws/eks/${this.clusterName}/cluster`, retentionInDays: config.logRetentionDays, kmsKeyId: key.arn, tags },
      parent,
    );

    const publicEndpoint = config.publicAccessCidrs.length > 0;
    const cluster = new aws.eks.Cluster(
      `${name}-cluster`,
      {
        name: this.clusterName,
        version: config.kubernetesVersion,
        roleArn: clusterRole.arn,
        vpcConfig: {
          subnetIds: vpc.privateSubnetIds,
          securityGroupIds: [apiGroup.id],
          endpointPrivateAccess: true,
          endpointPublicAccess: publicEndpoint,
          ...(publicEndpoint ? { publicAccessCidrs: config.publicAccessCidrs } : {}),
        },
        kubernetesNetworkConfig: { ipFamily: "ipv4", serviceIpv4Cidr: serviceRange },
        encryptionConfig: { resources: ["secrets"], provider: { keyArn: key.arn } },
        enabledClusterLogTypes: CONTROL_PLANE_LOGS,
        // Access entries, not the aws-auth ConfigMap. The creator keeps admin so `pulumi up` can deploy into it.
        accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
        // The add-ons below are managed (pinned, upgradable); EKS's unmanaged copies would fight them.
        bootstrapSelfManagedAddons: false,
        upgradePolicy: { supportType: "STANDARD" },
        tags,
      },
      { parent: this, dependsOn: [clusterPolicy, clusterKeyUse, logGroup] },
    );
    this.clusterArn = cluster.arn;
    this.endpoint = cluster.endpoint;
    this.oidcIssuer = cluster.identities.apply((ids) => ids?.[0]?.oidcs?.[0]?.issuer ?? "");

    config.admins.forEach((principalArn, i) => {
      const entry = new aws.eks.AccessEntry(`${name}-admin-${i}`, { clusterName: cluster.name, principalArn, type: "STANDARD", tags }, parent);
      new aws.eks.AccessPolicyAssociation(
        `${name}-admin-${i}`,
        { clusterName: cluster.name, principalArn: entry.principalArn, policyArn: ADMIN_POLICY, accessScope: { type: "cluster" } },
        parent,
      );
    });

    // Only the gateway's load balancer takes traffic from the internet, and only HTTP(S).
    const gatewayGroup = new aws.ec2.SecurityGroup(`${name}-gateway-lb`, { vpcId: vpc.vpcId, description: "HTTP and HTTPS from the internet to the gateway", tags: { ...tags, Name: `${name}-gateway-lb` } }, parent);
    for (const [port, cidr] of [[80, "0.0.0.0/0"], [443, "0.0.0.0/0"]] as const) {
      new aws.vpc.SecurityGroupIngressRule(`${name}-gateway-lb-${port}`, { securityGroupId: gatewayGroup.id, description: `port ${port} from the internet`, ipProtocol: "tcp", fromPort: port, toPort: port, cidrIpv4: cidr }, parent);
    }
    new aws.vpc.SecurityGroupEgressRule(`${name}-gateway-lb-to-vpc`, { securityGroupId: gatewayGroup.id, description: "to the gateway pods", ipProtocol: "tcp", fromPort: 0, toPort: 65535, cidrIpv4: config.vpcCidr }, parent);
    this.gatewaySecurityGroupId = gatewayGroup.id;
    this.nodeSecurityGroupIds = [cluster.vpcConfig.clusterSecurityGroupId];

    const nodeRole = new aws.iam.Role(`${name}-nodes`, { assumeRolePolicy: JSON.stringify(serviceTrust("ec2.amazonaws.com")), tags }, parent);
    const nodePolicies = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore"].map(
      (policy) => new aws.iam.RolePolicyAttachment(`${name}-nodes-${policy}`, { role: nodeRole.name, policyArn: `arn:aws:iam::aws:policy/${policy}` }, parent),
    );
    this.nodeRoleArn = nodeRole.arn;

    const addon = (addonName: EksAddonName, dependsOn: pulumi.Resource[], podRole?: PodRoleArgs, configurationValues?: Record<string, string>): aws.eks.Addon =>
      new aws.eks.Addon(
        `${name}-${addonName}`,
        {
          clusterName: cluster.name,
          addonName,
          addonVersion: addonVersion(config.kubernetesVersion, addonName),
          resolveConflictsOnCreate: "OVERWRITE",
          resolveConflictsOnUpdate: "PRESERVE",
          podIdentityAssociations: podRole ? [{ serviceAccount: podRole.serviceAccount, roleArn: this.podRole(`${name}-${addonName}`, podRole, cluster.arn).arn }] : undefined,
          configurationValues: configurationValues ? JSON.stringify(configurationValues) : undefined,
          tags,
        },
        { parent: this, dependsOn },
      );
    const podIdentityAgent = addon("eks-pod-identity-agent", [cluster]);
    // The CNI's network policy agent is off unless asked for: without it the zones' NetworkPolicies
    // would be stored by the API server and enforced by nothing (the agent lets the node's own
    // address through, so kubelet probes still reach the pods).
    const cni = addon(
      "vpc-cni",
      [podIdentityAgent],
      { namespace: "kube-system", serviceAccount: "aws-node", managedPolicies: ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"] },
      { enableNetworkPolicy: "true" },
    );
    const kubeProxy = addon("kube-proxy", [cluster]);

    const systemTemplate = nodeLaunchTemplate(`${name}-system-template`, { diskGiB: config.systemNodes.diskGiB, kmsKeyArn: key.arn, securityGroupIds: this.nodeSecurityGroupIds, tags }, parent);
    const system = new aws.eks.NodeGroup(
      `${name}-system`,
      {
        clusterName: cluster.name,
        nodeGroupName: "system",
        version: config.kubernetesVersion,
        nodeRoleArn: nodeRole.arn,
        subnetIds: vpc.privateSubnetIds,
        amiType: "AL2023_x86_64_STANDARD",
        capacityType: "ON_DEMAND",
        instanceTypes: config.systemNodes.instanceTypes,
        scalingConfig: { minSize: config.systemNodes.minSize, maxSize: config.systemNodes.maxSize, desiredSize: config.systemNodes.desiredSize },
        updateConfig: { maxUnavailable: 1 },
        launchTemplate: { id: systemTemplate.id, version: systemTemplate.latestVersion.apply(String) },
        labels: { [SYSTEM_NODE_LABEL]: "system" },
        tags: { ...tags, ...autoscalerDiscoveryTags(this.clusterName) },
      },
      // The desired size belongs to cluster-autoscaler once the group exists.
      { parent: this, dependsOn: [...nodePolicies, cni, kubeProxy], ignoreChanges: ["scalingConfig.desiredSize"] },
    );
    const coredns = addon("coredns", [system]);
    const ebs = addon("aws-ebs-csi-driver", [system, podIdentityAgent], {
      namespace: "kube-system",
      serviceAccount: "ebs-csi-controller-sa",
      managedPolicies: ["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
      policy: key.arn.apply((arn) => JSON.stringify(kmsUsePolicy(arn))),
    });

    this.kubeconfig = pulumi.secret(
      pulumi
        .all([cluster.name, cluster.endpoint, cluster.certificateAuthority])
        .apply(([clusterName, endpoint, ca]) => renderKubeconfig({ clusterName, endpoint, certificateAuthority: ca.data ?? "", region: this.region })),
    );
    this.provider = new k8s.Provider(`${name}-kubernetes`, { kubeconfig: this.kubeconfig, enableServerSideApply: true }, { parent: this, dependsOn: [system] });

    const storageClass = new k8s.storage.v1.StorageClass(
      `${name}-${STORAGE_CLASS}`,
      {
        metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" }, labels: { "app.kubernetes.io/part-of": "fundament" } },
        provisioner: "ebs.csi.aws.com",
        parameters: { type: "gp3", encrypted: "true", kmsKeyId: key.arn, "csi.storage.k8s.io/fstype": "ext4" },
        allowVolumeExpansion: true,
        // Volumes are created in the zone the pod is scheduled to, not before.
        volumeBindingMode: "WaitForFirstConsumer",
        // A deleted claim keeps its data: databases are not recreated empty by a rename.
        reclaimPolicy: "Retain",
      },
      { parent: this, provider: this.provider, dependsOn: [ebs] },
    );
    this.ready = [system, coredns, ebs, storageClass];
    this.registerOutputs({ clusterName: this.clusterName, endpoint: this.endpoint, oidcIssuer: this.oidcIssuer, kubeconfig: this.kubeconfig });
  }

  /** A role for one service account of one namespace, through EKS Pod Identity. */
  podRole(name: string, args: PodRoleArgs, clusterArn: pulumi.Input<string> = this.clusterArn): aws.iam.Role {
    const parent = { parent: this };
    const role = new aws.iam.Role(
      `${name}-pod`,
      {
        description: `pods of ${args.namespace}/${args.serviceAccount}`,
        assumeRolePolicy: pulumi.all([clusterArn, this.account]).apply(([arn, account]) => JSON.stringify(podIdentityTrust(arn, args.namespace, args.serviceAccount, account))),
        tags: this.tags,
      },
      parent,
    );
    (args.managedPolicies ?? []).forEach((policyArn, i) => new aws.iam.RolePolicyAttachment(`${name}-pod-${i}`, { role: role.name, policyArn }, parent));
    if (args.policy) new aws.iam.RolePolicy(`${name}-pod`, { role: role.id, policy: args.policy }, parent);
    return role;
  }

  /** A pod role bound by a Pod Identity association (for charts; managed add-ons bind their own). */
  podIdentity(name: string, args: PodRoleArgs): aws.eks.PodIdentityAssociation {
    const role = this.podRole(name, args);
    return new aws.eks.PodIdentityAssociation(
      `${name}-pod-identity`,
      { clusterName: this.clusterName, namespace: args.namespace, serviceAccount: args.serviceAccount, roleArn: role.arn, tags: this.tags },
      { parent: this, dependsOn: this.ready },
    );
  }

  /** A launch template like the system group's, for another managed node group. */
  launchTemplate(name: string, diskGiB: number, opts: pulumi.CustomResourceOptions): aws.ec2.LaunchTemplate {
    return nodeLaunchTemplate(name, { diskGiB, kmsKeyArn: this.kmsKeyArn, securityGroupIds: this.nodeSecurityGroupIds, tags: this.tags }, opts);
  }

  get version(): string {
    return this.kubernetesVersion;
  }
}

/** Tags cluster-autoscaler's auto-discovery looks for (EKS also puts them on the groups' ASGs). */
export function autoscalerDiscoveryTags(clusterName: string): Record<string, string> {
  return { "k8s.io/cluster-autoscaler/enabled": "true", [`k8s.io/cluster-autoscaler/${clusterName}`]: "owned" };
}
