import { defineResourcePolicy, type FundamentPolicy } from "../policy-definition";
import { asArray, asBoolean, asRecord, asRecords, asString, at, type PropertyRecord } from "../model/property-values";

const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const INSTANCE = "aws:ec2/instance:Instance";
const IAM_POLICY_TYPES = ["aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"];

/** IAM documents arrive as a JSON string or, from aws.iam.getPolicyDocument-style code, an object. */
function policyStatements(document: unknown): PropertyRecord[] {
  let parsed: unknown = document;
  if (typeof document === "string") {
    try {
      parsed = JSON.parse(document) as unknown;
    } catch {
      return [];
    }
  }
  const statement = asRecord(parsed)?.["Statement"];
  return Array.isArray(statement) ? asRecords(statement) : asRecords([statement]);
}

function listOf(value: unknown): string[] {
  return (Array.isArray(value) ? asArray(value) : [value]).filter((item): item is string => typeof item === "string");
}

export const awsPolicies: FundamentPolicy[] = [
  defineResourcePolicy({
    name: "ebs-encrypted",
    description: "EBS volumes and instance block devices must be encrypted.",
    concern: "aws",
    severity: "high",
    enforcement: "mandatory",
    remediation: "Set encrypted: true (and kmsKeyId to the platform key) on the volume or block device.",
    types: ["aws:ebs/volume:Volume", INSTANCE],
    validate: (resource, report) => {
      if (resource.type === INSTANCE) {
        const root = asRecord(resource.props["rootBlockDevice"]);
        if (asBoolean(root?.["encrypted"]) !== true) report(`rootBlockDevice.encrypted is ${root?.["encrypted"] === undefined ? "missing" : "false"}`);
        asRecords(resource.props["ebsBlockDevices"]).forEach((device, index) => {
          if (asBoolean(device["encrypted"]) !== true) report(`ebsBlockDevices[${index}].encrypted is not true`);
        });
        return;
      }
      const encrypted = asBoolean(resource.props["encrypted"]);
      if (encrypted !== true) report(`encrypted is ${encrypted === false ? "false" : "missing"}: the volume and its snapshots are stored in plain`);
    },
  }),
  defineResourcePolicy({
    name: "launch-template-ebs-encrypted",
    description: "Launch templates must encrypt every EBS block device they define, and define the root device.",
    concern: "aws",
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Add blockDeviceMappings for the root device with ebs: { encrypted: "true", kmsKeyId }.',
    types: [LAUNCH_TEMPLATE],
    validate: (resource, report) => {
      const mappings = asRecords(resource.props["blockDeviceMappings"]);
      if (mappings.length === 0) {
        report("blockDeviceMappings is missing, so volumes come from the AMI's snapshot settings (unencrypted by default)");
        return;
      }
      mappings.forEach((mapping, index) => {
        const ebs = asRecord(mapping["ebs"]);
        if (ebs && asBoolean(ebs["encrypted"]) !== true) report(`blockDeviceMappings[${index}].ebs.encrypted is ${ebs["encrypted"] === undefined ? "missing" : "not true"}`);
      });
    },
  }),
  defineResourcePolicy({
    name: "imdsv2-required",
    description: "Instances and launch templates must require IMDSv2 session tokens.",
    concern: "aws",
    severity: "high",
    enforcement: "mandatory",
    remediation: 'Set metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 2 } (2 lets pods on EKS nodes reach it).',
    types: [LAUNCH_TEMPLATE, INSTANCE],
    validate: (resource, report) => {
      if (asString(at(resource.props, "metadataOptions", "httpEndpoint")) === "disabled") return;
      const tokens = asString(at(resource.props, "metadataOptions", "httpTokens"));
      if (tokens !== "required") {
        report(`metadataOptions.httpTokens is ${tokens === undefined ? "missing" : `"${tokens}"`}, so IMDSv1 answers unauthenticated requests (SSRF steals node credentials)`);
      }
    },
  }),
  defineResourcePolicy({
    name: "kms-key-rotation",
    description: "Symmetric KMS keys must rotate automatically.",
    concern: "aws",
    severity: "medium",
    enforcement: "mandatory",
    remediation: "Set enableKeyRotation: true.",
    types: ["aws:kms/key:Key"],
    validate: (resource, report) => {
      const spec = asString(resource.props["customerMasterKeySpec"]) ?? asString(resource.props["keySpec"]) ?? "SYMMETRIC_DEFAULT";
      // AWS rotates only symmetric encryption keys; asymmetric and HMAC keys cannot enable it.
      if (spec !== "SYMMETRIC_DEFAULT") return;
      const rotation = asBoolean(resource.props["enableKeyRotation"]);
      if (rotation !== true) report(`enableKeyRotation is ${rotation === false ? "false" : "missing"}`);
    },
  }),
  defineResourcePolicy({
    name: "s3-public-access-blocked",
    description: "S3 public access blocks must set all four protections.",
    concern: "aws",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Set blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets to true.",
    types: ["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"],
    validate: (resource, report) => {
      const off = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].filter(
        (field) => asBoolean(resource.props[field]) !== true,
      );
      if (off.length > 0) report(`${off.join(", ")} ${off.length === 1 ? "is" : "are"} not true (each defaults to false)`);
    },
  }),
  defineResourcePolicy({
    name: "iam-no-admin-wildcard",
    description: "IAM policies must not allow every action on every resource.",
    concern: "aws",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Grant the specific actions and resource ARNs the role uses (least privilege).",
    types: IAM_POLICY_TYPES,
    validate: (resource, report) => {
      policyStatements(resource.props["policy"]).forEach((statement, index) => {
        if (asString(statement["Effect"]) !== "Allow") return;
        const actions = listOf(statement["Action"]);
        const resources = listOf(statement["Resource"]);
        if (actions.some((action) => action === "*" || action === "*:*") && resources.includes("*")) {
          report(`policy Statement[${index}] allows Action "*" on Resource "*" (full administrator)`);
        }
      });
    },
  }),
];
