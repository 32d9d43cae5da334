import type { PolicyDocument, Statement } from "./iam-documents";

/** The chart version whose controller this policy was written for (docs/install/iam_policy.json at the same tag). */
export const LOAD_BALANCER_CONTROLLER_POLICY_VERSION = "v3.5.0";

/** Where the AWS Load Balancer Controller finds this cluster's resources: its tag and the VPC. */
export interface LoadBalancerControllerScope {
  clusterName: string;
  region: string;
  account: string;
  vpcId: string;
}

/** The tag the controller puts on every load balancer, target group and security group it creates (pkg/deploy/tracking). */
const CLUSTER_TAG = "elbv2.k8s.aws/cluster";

const EC2_DESCRIBE = [
  "ec2:DescribeAccountAttributes",
  "ec2:DescribeAddresses",
  "ec2:DescribeAvailabilityZones",
  "ec2:DescribeInternetGateways",
  "ec2:DescribeVpcs",
  "ec2:DescribeVpcPeeringConnections",
  "ec2:DescribeSubnets",
  "ec2:DescribeSecurityGroups",
  "ec2:DescribeInstances",
  "ec2:DescribeNetworkInterfaces",
  "ec2:DescribeTags",
  "ec2:GetCoipPoolUsage",
  "ec2:DescribeCoipPools",
  "ec2:GetSecurityGroupsForVpc",
  "ec2:DescribeIpamPools",
  "ec2:DescribeRouteTables",
];
const ELB_DESCRIBE = [
  "elasticloadbalancing:DescribeLoadBalancers",
  "elasticloadbalancing:DescribeLoadBalancerAttributes",
  "elasticloadbalancing:DescribeListeners",
  "elasticloadbalancing:DescribeListenerCertificates",
  "elasticloadbalancing:DescribeSSLPolicies",
  "elasticloadbalancing:DescribeRules",
  "elasticloadbalancing:DescribeTargetGroups",
  "elasticloadbalancing:DescribeTargetGroupAttributes",
  "elasticloadbalancing:DescribeTargetHealth",
  "elasticloadbalancing:DescribeTags",
  "elasticloadbalancing:DescribeTrustStores",
  "elasticloadbalancing:DescribeListenerAttributes",
  "elasticloadbalancing:DescribeCapacityReservation",
];
/** ALB integrations the controller looks up when an Ingress asks for them (certificates, Cognito, WAF, Shield). */
const ALB_INTEGRATIONS = [
  "cognito-idp:DescribeUserPoolClient",
  "acm:ListCertificates",
  "acm:DescribeCertificate",
  "iam:ListServerCertificates",
  "iam:GetServerCertificate",
  "waf-regional:GetWebACL",
  "waf-regional:GetWebACLForResource",
  "waf-regional:AssociateWebACL",
  "waf-regional:DisassociateWebACL",
  "wafv2:GetWebACL",
  "wafv2:GetWebACLForResource",
  "wafv2:AssociateWebACL",
  "wafv2:DisassociateWebACL",
  "shield:GetSubscriptionState",
  "shield:DescribeProtection",
  "shield:CreateProtection",
  "shield:DeleteProtection",
];
const OWNED_ELB_CHANGES = [
  "elasticloadbalancing:ModifyLoadBalancerAttributes",
  "elasticloadbalancing:SetIpAddressType",
  "elasticloadbalancing:SetSecurityGroups",
  "elasticloadbalancing:SetSubnets",
  "elasticloadbalancing:DeleteLoadBalancer",
  "elasticloadbalancing:ModifyTargetGroup",
  "elasticloadbalancing:ModifyTargetGroupAttributes",
  "elasticloadbalancing:DeleteTargetGroup",
  "elasticloadbalancing:ModifyListenerAttributes",
  "elasticloadbalancing:ModifyCapacityReservation",
  "elasticloadbalancing:ModifyIpPools",
];
const LISTENERS_AND_RULES = ["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule"];
const LISTENER_CHANGES = [
  "elasticloadbalancing:SetWebAcl",
  "elasticloadbalancing:ModifyListener",
  "elasticloadbalancing:AddListenerCertificates",
  "elasticloadbalancing:RemoveListenerCertificates",
  "elasticloadbalancing:ModifyRule",
  "elasticloadbalancing:SetRulePriorities",
];

/**
 * The controller's IAM policy: the action set of its published policy (docs/install/iam_policy.json
 * at LOAD_BALANCER_CONTROLLER_POLICY_VERSION), narrowed where AWS lets it be:
 * - ARNs name this region and account instead of `*:*`;
 * - what the published policy grants on any resource carrying the controller's cluster tag
 *   (`Null` = "false") is granted only where that tag names this cluster, so the controller of one
 *   cluster cannot modify or delete another's load balancers and security groups;
 * - security-group ingress changes outside those tags are held to this VPC (the `ec2:Vpc`
 *   condition the controller's installation guide recommends).
 * Statements on Resource "*" remain where the API takes no resource ARN or the ARN does not exist
 * before the call; RESOURCE_WILDCARD_ACTIONS lists each.
 */
export function loadBalancerControllerPolicy(scope: LoadBalancerControllerScope): PolicyDocument {
  const { clusterName, region, account, vpcId } = scope;
  const ec2 = `arn:aws:ec2:${region}:${account}`;
  const elb = `arn:aws:elasticloadbalancing:${region}:${account}`;
  const ownedResource = { StringEquals: { [`aws:ResourceTag/${CLUSTER_TAG}`]: clusterName } };
  const ownedRequest = { StringEquals: { [`aws:RequestTag/${CLUSTER_TAG}`]: clusterName } };
  const loadBalancersAndTargetGroups = [`${elb}:targetgroup/*/*`, `${elb}:loadbalancer/net/*/*`, `${elb}:loadbalancer/app/*/*`];
  const statements: Statement[] = [
    {
      Sid: "ElbServiceLinkedRole",
      Effect: "Allow",
      Action: "iam:CreateServiceLinkedRole",
      Resource: "*",
      Condition: { StringEquals: { "iam:AWSServiceName": "elasticloadbalancing.amazonaws.com" } },
    },
    { Sid: "Describe", Effect: "Allow", Action: [...EC2_DESCRIBE, ...ELB_DESCRIBE], Resource: "*" },
    { Sid: "AlbIntegrations", Effect: "Allow", Action: ALB_INTEGRATIONS, Resource: "*" },
    {
      Sid: "SecurityGroupRulesInThisVpc",
      Effect: "Allow",
      Action: ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
      Resource: "*",
      Condition: { ArnEquals: { "ec2:Vpc": `${ec2}:vpc/${vpcId}` } },
    },
    { Sid: "CreateSecurityGroup", Effect: "Allow", Action: "ec2:CreateSecurityGroup", Resource: "*" },
    {
      Sid: "TagNewSecurityGroup",
      Effect: "Allow",
      Action: "ec2:CreateTags",
      Resource: `${ec2}:security-group/*`,
      Condition: { StringEquals: { "ec2:CreateAction": "CreateSecurityGroup", [`aws:RequestTag/${CLUSTER_TAG}`]: clusterName } },
    },
    {
      Sid: "RetagOwnSecurityGroups",
      Effect: "Allow",
      Action: ["ec2:CreateTags", "ec2:DeleteTags"],
      Resource: `${ec2}:security-group/*`,
      Condition: { Null: { [`aws:RequestTag/${CLUSTER_TAG}`]: "true" }, ...ownedResource },
    },
    {
      Sid: "ChangeOwnSecurityGroups",
      Effect: "Allow",
      Action: ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup"],
      Resource: "*",
      Condition: ownedResource,
    },
    {
      Sid: "CreateOwnLoadBalancers",
      Effect: "Allow",
      Action: ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
      Resource: "*",
      Condition: ownedRequest,
    },
    { Sid: "ListenersAndRules", Effect: "Allow", Action: LISTENERS_AND_RULES, Resource: "*" },
    {
      Sid: "RetagOwnLoadBalancers",
      Effect: "Allow",
      Action: ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
      Resource: loadBalancersAndTargetGroups,
      Condition: { Null: { [`aws:RequestTag/${CLUSTER_TAG}`]: "true" }, ...ownedResource },
    },
    {
      Sid: "TagListenersAndRules",
      Effect: "Allow",
      Action: ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
      Resource: [`${elb}:listener/net/*/*/*`, `${elb}:listener/app/*/*/*`, `${elb}:listener-rule/net/*/*/*`, `${elb}:listener-rule/app/*/*/*`],
    },
    { Sid: "ChangeOwnLoadBalancers", Effect: "Allow", Action: OWNED_ELB_CHANGES, Resource: "*", Condition: ownedResource },
    {
      Sid: "TagNewLoadBalancers",
      Effect: "Allow",
      Action: "elasticloadbalancing:AddTags",
      Resource: loadBalancersAndTargetGroups,
      Condition: { StringEquals: { "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"], [`aws:RequestTag/${CLUSTER_TAG}`]: clusterName } },
    },
    { Sid: "Targets", Effect: "Allow", Action: ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"], Resource: `${elb}:targetgroup/*/*` },
    { Sid: "ListenerChanges", Effect: "Allow", Action: LISTENER_CHANGES, Resource: "*" },
  ];
  return { Version: "2012-10-17", Statement: statements };
}

const each = (actions: string[], why: string): Record<string, string> => Object.fromEntries(actions.map((action) => [action, why]));

/** The controller's actions on Resource "*", each with the reason its API leaves no narrower resource. */
export const LOAD_BALANCER_CONTROLLER_WILDCARD_ACTIONS: Record<string, string> = {
  "iam:CreateServiceLinkedRole": "CreateServiceLinkedRole: the role's ARN is AWS's; held to elasticloadbalancing.amazonaws.com by iam:AWSServiceName",
  ...each(EC2_DESCRIBE, "EC2 Describe*/Get* list APIs take no resource ARN"),
  ...each(ELB_DESCRIBE, "Elastic Load Balancing Describe* APIs take no resource ARN"),
  "cognito-idp:DescribeUserPoolClient": "DescribeUserPoolClient: the user pool comes from an Ingress annotation, unknown to the policy",
  "acm:ListCertificates": "ListCertificates takes no resource ARN (certificate discovery by host name)",
  "acm:DescribeCertificate": "DescribeCertificate: the certificate comes from an annotation or discovery, unknown to the policy",
  "iam:ListServerCertificates": "ListServerCertificates takes no resource ARN",
  "iam:GetServerCertificate": "GetServerCertificate: the certificate comes from an annotation, unknown to the policy",
  ...each(["waf-regional:GetWebACL", "waf-regional:GetWebACLForResource", "waf-regional:AssociateWebACL", "waf-regional:DisassociateWebACL"], "WAF Classic regional web ACL APIs: the ACL comes from an Ingress annotation"),
  ...each(["wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL"], "WAFv2 web ACL APIs: the ACL comes from an Ingress annotation"),
  ...each(["shield:GetSubscriptionState", "shield:DescribeProtection", "shield:CreateProtection", "shield:DeleteProtection"], "Shield Advanced APIs: GetSubscriptionState takes no ARN, the protected ALB is created by the controller"),
  "ec2:AuthorizeSecurityGroupIngress": "AuthorizeSecurityGroupIngress on the nodes' and pods' groups: held to this VPC (ec2:Vpc) or to groups tagged for this cluster",
  "ec2:RevokeSecurityGroupIngress": "RevokeSecurityGroupIngress: as AuthorizeSecurityGroupIngress",
  "ec2:CreateSecurityGroup": "CreateSecurityGroup: the group's ARN does not exist before the call; its tags are held to this cluster by the CreateTags statement",
  "ec2:DeleteSecurityGroup": "DeleteSecurityGroup: only groups whose controller tag names this cluster (aws:ResourceTag)",
  "elasticloadbalancing:CreateLoadBalancer": "CreateLoadBalancer: the ARN does not exist before the call; the request must carry this cluster's tag",
  "elasticloadbalancing:CreateTargetGroup": "CreateTargetGroup: the ARN does not exist before the call; the request must carry this cluster's tag",
  ...each(LISTENERS_AND_RULES, "CreateListener/DeleteListener/CreateRule/DeleteRule: listener and rule ARNs are generated by the call (published policy grants them on *)"),
  ...each(OWNED_ELB_CHANGES, "changes to load balancers and target groups whose controller tag names this cluster (aws:ResourceTag)"),
  ...each(LISTENER_CHANGES, "listener and rule changes: listeners carry no cluster tag to condition on (published policy grants them on *)"),
};
