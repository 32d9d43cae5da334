import { defineResourcePolicy, type FundamentPolicy } from "../policy-definition";
import { asRecord, asString, type PropertyRecord } from "../model/property-values";
import { grantedActions, hasCondition, IAM_POLICY_TYPES, IAM_ROLE, identityDocuments, isBroadResource, listOf, policyStatements } from "../model/iam-documents";

/**
 * Actions that let whoever holds them on any role, user or policy give themselves more: write a
 * policy, attach one, mint credentials for another identity, hand a role to a service they run,
 * assume any role that trusts the account, or run commands on any instance (and so use its role).
 * The list the published IAM escalation research keeps (Rhino Security Labs, pmapper).
 */
const ESCALATING_ACTIONS = [
  "iam:CreatePolicyVersion",
  "iam:SetDefaultPolicyVersion",
  "iam:AttachUserPolicy",
  "iam:AttachGroupPolicy",
  "iam:AttachRolePolicy",
  "iam:PutUserPolicy",
  "iam:PutGroupPolicy",
  "iam:PutRolePolicy",
  "iam:DeleteRolePermissionsBoundary",
  "iam:DeleteUserPermissionsBoundary",
  "iam:AddUserToGroup",
  "iam:UpdateAssumeRolePolicy",
  "iam:CreateAccessKey",
  "iam:CreateLoginProfile",
  "iam:UpdateLoginProfile",
  "iam:PassRole",
  "sts:AssumeRole",
  "ssm:SendCommand",
  "ssm:StartSession",
  "ec2-instance-connect:SendSSHPublicKey",
  "lambda:UpdateFunctionCode",
];

/** Reads that hand over every secret, key or object in the account when granted on every resource. */
const SECRET_READS = [
  "secretsmanager:GetSecretValue",
  "ssm:GetParameter",
  "ssm:GetParameters",
  "ssm:GetParametersByPath",
  "kms:Decrypt",
  "s3:GetObject",
];

const SERVICE_WIDE = /^[a-z0-9-]+:\*$/i;

/** The statements that allow something on a resource pattern that reaches everything, with no Condition. */
function unscopedAllows(resource: { type: string; props: PropertyRecord }): { where: string; statement: PropertyRecord; resources: string[] }[] {
  return identityDocuments(resource.type, resource.props).flatMap((document) =>
    document.statements.flatMap((statement, index) => {
      if (asString(statement["Effect"]) !== "Allow" || hasCondition(statement)) return [];
      const resources = listOf(statement["Resource"]).filter(isBroadResource);
      // Action "*" on Resource "*" is iam-no-admin-wildcard's one finding.
      const administrator = listOf(statement["Action"]).some((action) => action === "*" || action === "*:*") && resources.includes("*");
      return resources.length === 0 || administrator ? [] : [{ where: `${document.field} Statement[${index}]`, statement, resources }];
    }),
  );
}

/** Condition keys a web-identity trust must test for the token's subject (`<provider>:sub`). */
function conditionKeys(statement: PropertyRecord): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const clauses of Object.values(asRecord(statement["Condition"]) ?? {})) {
    for (const [key, value] of Object.entries(asRecord(clauses) ?? {})) keys.set(key.toLowerCase(), [...(keys.get(key.toLowerCase()) ?? []), ...listOf(value)]);
  }
  return keys;
}

/** A subject pattern that admits anyone of the provider: "*", or GitHub's "repo:*" (every repository on GitHub). */
function admitsAnySubject(value: string): boolean {
  return /^\*+$/.test(value) || /^repo:\*/.test(value) || /^system:serviceaccount:\*/.test(value);
}

/** Condition keys that tie an account-wide principal to one caller, organisation, or an external id. */
const CALLER_KEYS = ["sts:externalid", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths", "aws:sourcearn", "aws:sourceaccount", "aws:multifactorauthpresent"];

export const awsIamPolicies: FundamentPolicy[] = [
  defineResourcePolicy({
    name: "iam-no-privilege-escalation",
    description:
      "IAM policies must not grant, on every role, user or policy and with no Condition, the actions that let the holder raise its own rights: writing or attaching policies, minting another identity's credentials, iam:PassRole, sts:AssumeRole, running commands on any instance.",
    concern: "aws",
    // Critical: each of these turns the smallest leaked credential into the account's administrator.
    severity: "critical",
    enforcement: "mandatory",
    remediation:
      'Name the roles, users or policies in Resource (arn:aws:iam::<account>:role/<name>), and scope iam:PassRole with a Condition on iam:PassedToService; a permissions boundary condition (iam:PermissionsBoundary) where roles are created.',
    types: [...IAM_POLICY_TYPES, IAM_ROLE],
    validate: (resource, report) => {
      for (const { where, statement, resources } of unscopedAllows(resource)) {
        const escalating = grantedActions(statement, ESCALATING_ACTIONS);
        if (escalating.length === 0) continue;
        const shown = escalating.length > 4 ? `${escalating.slice(0, 4).join(", ")} and ${escalating.length - 4} more` : escalating.join(", ");
        report(`${where} allows ${shown} on ${resources.map((r) => `"${r}"`).join(", ")} with no Condition: whoever holds it can raise its own rights`);
      }
    },
  }),
  defineResourcePolicy({
    name: "iam-scoped-grants",
    description:
      'IAM policies must not grant a whole service ("s3:*", "kms:*") or a read of every secret, key or object (secretsmanager:GetSecretValue, ssm:GetParameter*, kms:Decrypt, s3:GetObject) on every resource with no Condition, nor Allow with NotAction or NotResource.',
    concern: "aws",
    severity: "high",
    enforcement: "mandatory",
    remediation: "List the actions the workload calls and the ARNs it calls them on (a bucket, a secret's path, a key); deny with NotAction if you must, never allow with it.",
    types: [...IAM_POLICY_TYPES, IAM_ROLE],
    validate: (resource, report) => {
      for (const document of identityDocuments(resource.type, resource.props)) {
        document.statements.forEach((statement, index) => {
          if (asString(statement["Effect"]) !== "Allow") return;
          if (statement["NotAction"] !== undefined) report(`${document.field} Statement[${index}] allows NotAction: every action but the listed ones, including those AWS adds later`);
          if (statement["NotResource"] !== undefined) report(`${document.field} Statement[${index}] allows on NotResource: every resource but the listed ones`);
        });
      }
      for (const { where, statement, resources } of unscopedAllows(resource)) {
        const on = resources.map((r) => `"${r}"`).join(", ");
        const wholeServices = listOf(statement["Action"]).filter((action) => SERVICE_WIDE.test(action));
        if (wholeServices.length > 0) {
          report(`${where} allows every action of ${wholeServices.join(", ")} on ${on} with no Condition`);
          continue;
        }
        const reads = grantedActions(statement, SECRET_READS);
        if (reads.length > 0) report(`${where} allows ${reads.join(", ")} on ${on} with no Condition: every secret, key or object in the account`);
      }
    },
  }),
  defineResourcePolicy({
    name: "aws-role-trust-scoped",
    description:
      "A role's trust policy must say whom it trusts: a web identity (GitHub Actions, an EKS cluster's OIDC issuer) only with a Condition on the token's subject, naming the repository or service account; another account's root only with a Condition on the caller or an external id.",
    concern: "aws",
    // High: GitHub's OIDC tokens all carry the same audience, so a trust without a subject lets
    // every workflow on GitHub assume the role; an account root lets any of its principals.
    severity: "high",
    enforcement: "mandatory",
    remediation:
      'Add "StringEquals": {"<issuer>:sub": "repo:<org>/<repo>:ref:refs/heads/main"} (GitHub) or {"<issuer>:sub": "system:serviceaccount:<namespace>:<name>"} (EKS), with "<issuer>:aud"; for another account, name its role ARN or require sts:ExternalId.',
    types: [IAM_ROLE],
    validate: (resource, report) => {
      policyStatements(resource.props["assumeRolePolicy"]).forEach((statement, index) => {
        if (asString(statement["Effect"]) !== "Allow") return;
        const principal = asRecord(statement["Principal"]) ?? {};
        const keys = conditionKeys(statement);
        for (const provider of listOf(principal["Federated"])) {
          if (!grantedActions(statement, ["sts:AssumeRoleWithWebIdentity"]).length) continue;
          const subjects = [...keys].filter(([key]) => key.endsWith(":sub")).flatMap(([, values]) => values);
          if (subjects.length === 0) report(`assumeRolePolicy Statement[${index}] trusts ${provider} with no Condition on the token's subject (:sub): any identity that provider issues tokens to may assume the role`);
          else if (subjects.some(admitsAnySubject)) report(`assumeRolePolicy Statement[${index}] trusts ${provider} for any subject (${subjects.filter(admitsAnySubject).join(", ")})`);
        }
        for (const arn of listOf(principal["AWS"])) {
          const accountRoot = /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(arn)?.[1] ?? (/^\d{12}$/.test(arn) ? arn : undefined);
          if (accountRoot === undefined || CALLER_KEYS.some((key) => keys.has(key))) continue;
          report(`assumeRolePolicy Statement[${index}] trusts account ${accountRoot}'s root with no Condition on the caller or an external id: every principal there allowed sts:AssumeRole may assume the role`);
        }
      });
    },
  }),
];
