import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { flowLogsPolicy, serviceTrust } from "./iam-documents";
import { planSubnets } from "./subnet-plan";

export interface VpcArgs {
  clusterName: string;
  region: string;
  account: pulumi.Input<string>;
  availabilityZones: string[];
  cidr: string;
  natGateways: "perZone" | "shared";
  logRetentionDays: number;
  /** Encrypts the flow logs. */
  kmsKeyArn: pulumi.Input<string>;
  tags: Record<string, string>;
}

/** Interface endpoints nodes need to run with no NAT traffic for AWS APIs: image pulls, Pod Identity's STS, logs. */
const INTERFACE_ENDPOINTS = ["ecr.api", "ecr.dkr", "sts", "logs"] as const;

/**
 * The network of the cluster: one public and one private subnet per zone, NAT per zone or one
 * shared, S3 as a gateway endpoint (free, and image layers come from S3), interface endpoints for
 * ECR, STS and CloudWatch Logs, and flow logs of every packet decision into an encrypted log group.
 */
export class Vpc extends pulumi.ComponentResource {
  readonly vpcId: pulumi.Output<string>;
  readonly privateSubnetIds: pulumi.Output<string>[];
  readonly publicSubnetIds: pulumi.Output<string>[];
  readonly cidr: string;

  constructor(name: string, args: VpcArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:cloud:Vpc", name, {}, opts);
    const parent = { parent: this };
    const tags = (extra: Record<string, string>) => ({ ...args.tags, ...extra });
    const clusterTag = `kubernetes.io/cluster/${args.clusterName}`;
    this.cidr = args.cidr;

    const vpc = new aws.ec2.Vpc(name, { cidrBlock: args.cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: tags({ Name: name }) }, parent);
    this.vpcId = vpc.id;
    // Nothing may use the default security group: it admits all traffic between its members.
    new aws.ec2.DefaultSecurityGroup(`${name}-default-sg`, { vpcId: vpc.id, ingress: [], egress: [], tags: tags({ Name: `${name}-default-closed` }) }, parent);
    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: tags({ Name: `${name}-igw` }) }, parent);
    const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, { vpcId: vpc.id, tags: tags({ Name: `${name}-public` }) }, parent);
    new aws.ec2.Route(`${name}-public-default`, { routeTableId: publicRoutes.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: gateway.id }, parent);

    const plan = planSubnets(args.cidr, args.availabilityZones);
    const publicSubnets = plan.map(
      (zone) =>
        new aws.ec2.Subnet(
          `${name}-public-${zone.zone}`,
          {
            vpcId: vpc.id,
            availabilityZone: zone.zone,
            cidrBlock: zone.publicCidr,
            // Only load balancers and NAT gateways live here; nothing gets a public address by default.
            mapPublicIpOnLaunch: false,
            tags: tags({ Name: `${name}-public-${zone.zone}`, "kubernetes.io/role/elb": "1", [clusterTag]: "shared" }),
          },
          parent,
        ),
    );
    publicSubnets.forEach((subnet, i) => new aws.ec2.RouteTableAssociation(`${name}-public-${plan[i].zone}`, { subnetId: subnet.id, routeTableId: publicRoutes.id }, parent));

    const natZones = args.natGateways === "perZone" ? plan : plan.slice(0, 1);
    const nats = natZones.map((zone, i) => {
      const address = new aws.ec2.Eip(`${name}-nat-${zone.zone}`, { domain: "vpc", tags: tags({ Name: `${name}-nat-${zone.zone}` }) }, parent);
      return new aws.ec2.NatGateway(
        `${name}-nat-${zone.zone}`,
        { allocationId: address.id, subnetId: publicSubnets[i].id, connectivityType: "public", tags: tags({ Name: `${name}-nat-${zone.zone}` }) },
        { parent: this, dependsOn: [gateway] },
      );
    });

    const privateRouteTables: aws.ec2.RouteTable[] = [];
    const privateSubnets = plan.map((zone, i) => {
      const subnet = new aws.ec2.Subnet(
        `${name}-private-${zone.zone}`,
        {
          vpcId: vpc.id,
          availabilityZone: zone.zone,
          cidrBlock: zone.privateCidr,
          mapPublicIpOnLaunch: false,
          tags: tags({ Name: `${name}-private-${zone.zone}`, "kubernetes.io/role/internal-elb": "1", [clusterTag]: "shared" }),
        },
        parent,
      );
      const routes = new aws.ec2.RouteTable(`${name}-private-${zone.zone}`, { vpcId: vpc.id, tags: tags({ Name: `${name}-private-${zone.zone}` }) }, parent);
      new aws.ec2.Route(`${name}-private-${zone.zone}-default`, { routeTableId: routes.id, destinationCidrBlock: "0.0.0.0/0", natGatewayId: nats[Math.min(i, nats.length - 1)].id }, parent);
      new aws.ec2.RouteTableAssociation(`${name}-private-${zone.zone}`, { subnetId: subnet.id, routeTableId: routes.id }, parent);
      privateRouteTables.push(routes);
      return subnet;
    });
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.publicSubnetIds = publicSubnets.map((s) => s.id);

    new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      { vpcId: vpc.id, serviceName: `com.amazonaws.${args.region}.s3`, vpcEndpointType: "Gateway", routeTableIds: privateRouteTables.map((t) => t.id), tags: tags({ Name: `${name}-s3` }) },
      parent,
    );
    const endpointGroup = new aws.ec2.SecurityGroup(
      `${name}-endpoints`,
      { vpcId: vpc.id, description: "HTTPS from the VPC to the interface endpoints", tags: tags({ Name: `${name}-endpoints` }) },
      parent,
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-endpoints-https`,
      { securityGroupId: endpointGroup.id, description: "HTTPS from the VPC", ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv4: args.cidr },
      parent,
    );
    for (const service of INTERFACE_ENDPOINTS) {
      new aws.ec2.VpcEndpoint(
        `${name}-${service.replace(".", "-")}`,
        {
          vpcId: vpc.id,
          serviceName: `com.amazonaws.${args.region}.${service}`,
          vpcEndpointType: "Interface",
          privateDnsEnabled: true,
          subnetIds: this.privateSubnetIds,
          securityGroupIds: [endpointGroup.id],
          tags: tags({ Name: `${name}-${service}` }),
        },
        parent,
      );
    }

    const flowLogGroup = new aws.cloudwatch.LogGroup(
      `${name}-flow-logs`,
      { name: `/fundament/${args.clusterName}/vpc-flow-logs`, retentionInDays: args.logRetentionDays, kmsKeyId: args.kmsKeyArn, tags: args.tags },
      parent,
    );
    const flowLogRole = new aws.iam.Role(
      `${name}-flow-logs`,
      { assumeRolePolicy: pulumi.output(args.account).apply((account) => JSON.stringify(serviceTrust("vpc-flow-logs.amazonaws.com", account))), tags: args.tags },
      parent,
    );
    new aws.iam.RolePolicy(`${name}-flow-logs`, { role: flowLogRole.id, policy: flowLogGroup.arn.apply((arn) => JSON.stringify(flowLogsPolicy(arn))) }, parent);
    new aws.ec2.FlowLog(
      `${name}-flow-logs`,
      { vpcId: vpc.id, trafficType: "ALL", logDestinationType: "cloud-watch-logs", logDestination: flowLogGroup.arn, iamRoleArn: flowLogRole.arn, maxAggregationInterval: 60, tags: args.tags },
      parent,
    );
    this.registerOutputs({ vpcId: this.vpcId, privateSubnetIds: this.privateSubnetIds, publicSubnetIds: this.publicSubnetIds });
  }
}
