import { LOAD_BALANCER_CONTROLLER_WILDCARD_ACTIONS } from "./load-balancer-controller-policy";

/**
 * IAM documents of the cluster as pure functions of ARNs and names: trust policies that name one
 * principal and carry its conditions, and permission policies that list actions one by one.
 */

export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: Record<string, string | string[]>;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: Statement[];
}

function document(...statements: Statement[]): PolicyDocument {
  return { Version: "2012-10-17", Statement: statements };
}

/**
 * Trust for an AWS service principal. The EKS control plane and EC2 do not send
 * aws:SourceAccount when they assume a cluster or node role, so there the principal alone is the
 * restriction; services that do send it get the account condition (confused deputy).
 */
export function serviceTrust(service: string, sourceAccount?: string): PolicyDocument {
  return document({
    Effect: "Allow",
    Principal: { Service: service },
    Action: "sts:AssumeRole",
    ...(sourceAccount ? { Condition: { StringEquals: { "aws:SourceAccount": sourceAccount } } } : {}),
  });
}

/**
 * Trust of a pod role under EKS Pod Identity: only the Pod Identity service, only for this
 * cluster, and only for pods of this namespace and service account (the agent sets these session
 * tags on every AssumeRole, so a second association elsewhere cannot borrow the role).
 */
export function podIdentityTrust(clusterArn: string, namespace: string, serviceAccount: string, account: string): PolicyDocument {
  return document({
    Effect: "Allow",
    Principal: { Service: "pods.eks.amazonaws.com" },
    Action: ["sts:AssumeRole", "sts:TagSession"],
    Condition: {
      StringEquals: {
        "aws:SourceAccount": account,
        "aws:RequestTag/kubernetes-namespace": namespace,
        "aws:RequestTag/kubernetes-service-account": serviceAccount,
      },
      ArnEquals: { "aws:SourceArn": clusterArn },
    },
  });
}

/**
 * Actions granted on Resource "*" because the API has no resource-level permissions (the
 * Service Authorization Reference lists no resource type for them). The IAM tests hold every
 * policy of the stack to this list.
 */
export const RESOURCE_WILDCARD_ACTIONS: Record<string, string> = {
  "autoscaling:DescribeAutoScalingGroups": "Describe* of Auto Scaling takes no resource ARN",
  "autoscaling:DescribeAutoScalingInstances": "Describe* of Auto Scaling takes no resource ARN",
  "autoscaling:DescribeLaunchConfigurations": "Describe* of Auto Scaling takes no resource ARN",
  "autoscaling:DescribeScalingActivities": "Describe* of Auto Scaling takes no resource ARN",
  "autoscaling:DescribeTags": "Describe* of Auto Scaling takes no resource ARN",
  "ec2:DescribeImages": "EC2 Describe* takes no resource ARN",
  "ec2:DescribeInstanceTypes": "EC2 Describe* takes no resource ARN",
  "ec2:DescribeLaunchTemplateVersions": "EC2 Describe* takes no resource ARN",
  "ec2:GetInstanceTypesFromInstanceRequirements": "takes no resource ARN",
  // The node groups' Auto Scaling groups are named by EKS, so they are matched by their tag instead.
  "autoscaling:SetDesiredCapacity": "scoped by the aws:ResourceTag condition to this cluster's groups",
  "autoscaling:TerminateInstanceInAutoScalingGroup": "scoped by the aws:ResourceTag condition to this cluster's groups",
  // The AWS Load Balancer Controller's, each with its API named (load-balancer-controller-policy.ts).
  ...LOAD_BALANCER_CONTROLLER_WILDCARD_ACTIONS,
};

/** What cluster-autoscaler calls (its AWS cloud provider README), scoped to this cluster's groups. */
export function clusterAutoscalerPolicy(clusterName: string, clusterArn: string): PolicyDocument {
  return document(
    {
      Sid: "ScaleOwnGroups",
      Effect: "Allow",
      Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
      Resource: "*",
      Condition: { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${clusterName}`]: "owned" } },
    },
    {
      Sid: "Discover",
      Effect: "Allow",
      Action: [
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeLaunchConfigurations",
        "autoscaling:DescribeScalingActivities",
        "autoscaling:DescribeTags",
        "ec2:DescribeImages",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:GetInstanceTypesFromInstanceRequirements",
      ],
      Resource: "*",
    },
    {
      // Labels and taints of an empty managed node group, for scaling a GPU pool up from zero.
      Sid: "DescribeOwnNodegroups",
      Effect: "Allow",
      Action: "eks:DescribeNodegroup",
      Resource: `${clusterArn.replace(":cluster/", ":nodegroup/")}/*/*`,
    },
  );
}

/** Use of the platform key by a role that encrypts EBS volumes or Secrets (grants only for AWS services). */
export function kmsUsePolicy(keyArn: string): PolicyDocument {
  return document(
    {
      Sid: "UseKey",
      Effect: "Allow",
      Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
      Resource: keyArn,
    },
    {
      Sid: "GrantToAwsServices",
      Effect: "Allow",
      Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
      Resource: keyArn,
      Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
    },
  );
}

/** Flow logs write into their one log group. */
export function flowLogsPolicy(logGroupArn: string): PolicyDocument {
  return document({
    Effect: "Allow",
    Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
    Resource: [logGroupArn, `${logGroupArn}:*`],
  });
}

/**
 * The platform key's policy. The account root statement is the key's administrative anchor (AWS's
 * default key policy): without it no IAM policy could grant use and the key becomes unmanageable.
 * Auto Scaling's service-linked role launches nodes whose root volumes this key encrypts, and
 * CloudWatch Logs encrypts the control-plane and flow logs with it.
 */
export function platformKeyPolicy(account: string, region: string): PolicyDocument {
  const autoscaling = `arn:aws:iam::${account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;
  return document(
    { Sid: "AccountAdministers", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "kms:*", Resource: "*" },
    {
      Sid: "AutoScalingEncryptsNodeVolumes",
      Effect: "Allow",
      Principal: { AWS: autoscaling },
      Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
      Resource: "*",
    },
    {
      Sid: "AutoScalingGrantsToEbs",
      Effect: "Allow",
      Principal: { AWS: autoscaling },
      Action: "kms:CreateGrant",
      Resource: "*",
      Condition: { Bool: { "kms:GrantIsForAWSResource": "true" } },
    },
    {
      Sid: "CloudWatchLogsEncrypts",
      Effect: "Allow",
      Principal: { Service: `logs.${region}.amazonaws.com` },
      Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
      Resource: "*",
      Condition: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${region}:${account}:log-group:*` } },
    },
  );
}

/**
 * In a key policy "Resource": "*" means this key: key policies attach to exactly one key. The
 * account root's "kms:*" is AWS's default key policy statement (see platformKeyPolicy).
 */
export const KEY_POLICY_WILDCARDS = { action: "kms:* for the account root only", resource: "a key policy's * is the key itself" };

/** AWS managed policies the stack attaches, and why each is needed. */
export const MANAGED_POLICIES: Record<string, string> = {
  "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy": "the EKS control plane's role",
  "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy": "nodes join the cluster and describe themselves",
  "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly": "nodes pull images from ECR (pull only, no push or list)",
  "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore": "shell access through SSM Session Manager instead of SSH",
  "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy": "vpc-cni assigns pod addresses (its pod role only, not the nodes')",
  "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy": "the EBS CSI controller creates and attaches volumes (tag-scoped by AWS)",
};
