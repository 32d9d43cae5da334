import { defineResourcePolicy, type FundamentPolicy } from "../policy-definition";
import { asBoolean, asRecord, asRecords, asString, asStrings, at } from "../model/property-values";
import { readIfKnown, readKnown } from "../model/unknown-values";
import { IAM_POLICY_TYPES, IAM_ROLE as ROLE, identityDocuments, listOf, policyStatements } from "../model/iam-documents";

const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const INSTANCE = "aws:ec2/instance:Instance";
const KMS_KEY = "aws:kms/key:Key";
const BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy";
/** The control-plane logs that say who did what: API requests, the audit trail and authentications. */
const REQUIRED_CONTROL_PLANE_LOGS: readonly string[] = ["api", "audit", "authenticator"];

/** A policy Principal that stands for everyone: "*", or {"AWS": "*"} (alone or in a list). */
function isEveryone(principal: unknown): boolean {
  if (principal === "*") return true;
  return listOf(asRecord(principal)?.["AWS"]).includes("*");
}

/** Condition keys that say who may call (an account, organisation, network or caller); aws:SecureTransport and the like do not. */
const PRINCIPAL_CONDITION_KEYS: ReadonlySet<string> = new Set([
  "aws:sourceaccount",
  "aws:sourcearn",
  "aws:sourceowner",
  "aws:principalorgid",
  "aws:principalorgpaths",
  "aws:principalaccount",
  "aws:principalarn",
  "aws:sourcevpce",
  "aws:sourcevpc",
  "aws:sourceip",
  "aws:vpcsourceip",
  "kms:calleraccount",
]);

/** Whether a statement's Condition names who may call; any operator (StringEquals, ArnLike, ...) counts. */
function narrowsPrincipal(condition: unknown): boolean {
  return Object.values(asRecord(condition) ?? {}).some((clauses) => Object.keys(asRecord(clauses) ?? {}).some((key) => PRINCIPAL_CONDITION_KEYS.has(key.toLowerCase())));
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
    description: "IAM policies (and a role's inline policies) must not allow every action on every resource.",
    concern: "aws",
    severity: "critical",
    enforcement: "mandatory",
    remediation: "Grant the specific actions and resource ARNs the role uses (least privilege).",
    types: [...IAM_POLICY_TYPES, ROLE],
    validate: (resource, report) => {
      for (const document of identityDocuments(resource.type, resource.props)) {
        document.statements.forEach((statement, index) => {
          if (asString(statement["Effect"]) !== "Allow") return;
          const actions = listOf(statement["Action"]);
          const resources = listOf(statement["Resource"]);
          if (actions.some((action) => action === "*" || action === "*:*") && resources.includes("*")) {
            report(`${document.field} Statement[${index}] allows Action "*" on Resource "*" (full administrator)`);
          }
        });
      }
    },
  }),
  defineResourcePolicy({
    name: "aws-no-public-principal",
    description: "Role trust policies, KMS key policies and S3 bucket policies must not allow Principal \"*\" (every AWS account, or anyone) without a Condition on who calls (account, organisation, source ARN, VPC endpoint or network).",
    concern: "aws",
    // Critical: a role anyone may assume, a key anyone may use or a bucket anyone may read is
    // open to every AWS account in the world, whatever the identity policies say.
    severity: "critical",
    enforcement: "mandatory",
    remediation: 'Name the principals (a service such as eks.amazonaws.com, an account or role ARN), or keep "*" only with a Condition on aws:SourceAccount, aws:PrincipalOrgID or aws:SourceVpce.',
    types: [ROLE, KMS_KEY, BUCKET_POLICY],
    validate: (resource, report) => {
      const field = resource.type === ROLE ? "assumeRolePolicy" : "policy";
      policyStatements(resource.props[field]).forEach((statement, index) => {
        if (asString(statement["Effect"]) !== "Allow" || narrowsPrincipal(statement["Condition"])) return;
        if (isEveryone(statement["Principal"])) report(`${field} Statement[${index}] allows Principal "*" with no Condition on who calls: every AWS account may ${resource.type === ROLE ? "assume the role" : "use it"}`);
      });
    },
  }),
  defineResourcePolicy({
    name: "eks-control-plane-logging",
    description: "EKS clusters must send the api, audit and authenticator control-plane logs to CloudWatch: without them no one can tell afterwards who did what to the cluster.",
    concern: "aws",
    // Medium: nothing breaks, but an incident (a leaked kubeconfig, a deleted namespace) cannot
    // be traced, and the audit log is what CIS and most compliance regimes ask for first.
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: 'Set enabledClusterLogTypes to ["api", "audit", "authenticator", "controllerManager", "scheduler"] (the last two are optional) with a log group that has a retention and a KMS key.',
    types: ["aws:eks/cluster:Cluster"],
    validate: (resource, report) => {
      const enabled = asStrings(readKnown(() => resource.props["enabledClusterLogTypes"]));
      const missing = REQUIRED_CONTROL_PLANE_LOGS.filter((type) => !enabled.includes(type));
      if (missing.length > 0) report(`enabledClusterLogTypes lacks ${missing.join(", ")}: the control plane's ${missing.length === 1 ? "log is" : "logs are"} not kept`);
    },
  }),
  defineResourcePolicy({
    name: "cloudwatch-log-group-retention",
    description: "CloudWatch log groups must expire their logs (retentionInDays) and encrypt them with a customer-managed KMS key.",
    concern: "aws",
    // Medium: a group without retention keeps (and bills) every line forever; without a key of
    // the stack's, anyone with logs:GetLogEvents reads flow logs and audit logs alike.
    severity: "medium",
    enforcement: { dev: "advisory", prod: "mandatory" },
    remediation: "Set retentionInDays (the stack's logRetentionDays) and kmsKeyId to the platform key, whose policy lets logs.<region>.amazonaws.com use it.",
    types: ["aws:cloudwatch/logGroup:LogGroup"],
    validate: (resource, report) => {
      const retention = readIfKnown(() => resource.props["retentionInDays"]);
      if (retention.known && !(typeof retention.value === "number" && retention.value > 0)) report(`retentionInDays is ${retention.value === undefined ? "not set" : JSON.stringify(retention.value)}: the logs are kept, and billed, forever`);
      const key = readIfKnown(() => resource.props["kmsKeyId"]);
      if (key.known && (typeof key.value !== "string" || key.value === "")) report("kmsKeyId is not set: the logs are encrypted only with a key AWS holds for every reader of the account");
    },
  }),
];
