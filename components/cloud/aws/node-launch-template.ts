import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface NodeLaunchTemplateArgs {
  diskGiB: number;
  kmsKeyArn: pulumi.Input<string>;
  securityGroupIds: pulumi.Input<string>[];
  tags: Record<string, string>;
}

/**
 * What a managed node group's nodes boot with: the root volume gp3 and encrypted with the platform
 * key (the AMI's snapshot settings would leave it plain), and IMDSv2 required. The hop limit of 2
 * is EKS's own default for AL2023 nodes: pods get credentials from Pod Identity, and the node role
 * holds only what a node needs. No image id: EKS picks the AMI of the group's amiType and
 * bootstraps it, so the group upgrades with the cluster.
 */
export function nodeLaunchTemplate(name: string, args: NodeLaunchTemplateArgs, opts: pulumi.CustomResourceOptions): aws.ec2.LaunchTemplate {
  return new aws.ec2.LaunchTemplate(
    name,
    {
      description: `fundament nodes: ${name}`,
      updateDefaultVersion: true,
      blockDeviceMappings: [
        { deviceName: "/dev/xvda", ebs: { volumeSize: args.diskGiB, volumeType: "gp3", encrypted: "true", kmsKeyId: args.kmsKeyArn, deleteOnTermination: "true" } },
      ],
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 2, instanceMetadataTags: "disabled" },
      vpcSecurityGroupIds: args.securityGroupIds,
      tagSpecifications: [
        { resourceType: "instance", tags: { ...args.tags, Name: name } },
        { resourceType: "volume", tags: { ...args.tags, Name: name } },
      ],
      tags: args.tags,
    },
    opts,
  );
}
