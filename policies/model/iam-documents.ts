import { asArray, asRecord, asRecords, asString, type PropertyRecord } from "./property-values";
import { readKnown } from "./unknown-values";
import { globMatches } from "../exemptions";

export const IAM_ROLE = "aws:iam/role:Role";
/** Resources whose `policy` is an identity policy: what the role, user or group may do. */
export const IAM_POLICY_TYPES = ["aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"];

/** IAM documents arrive as a JSON string or, from aws.iam.getPolicyDocument-style code, an object. */
export function policyStatements(document: unknown): PropertyRecord[] {
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

/** A field that may hold one string or a list of them (Action, Resource, a condition's values). */
export function listOf(value: unknown): string[] {
  return (Array.isArray(value) ? asArray(value) : [value]).filter((item): item is string => typeof item === "string");
}

/** One identity policy document of a resource, and where it sits (for the finding). */
export interface IdentityDocument {
  field: string;
  statements: PropertyRecord[];
}

/**
 * The identity policies a resource carries: `policy` of the policy resources, and a role's
 * `inlinePolicies` (aws.iam.Role takes them inline, and they grant as much as a RolePolicy).
 */
export function identityDocuments(type: string, props: PropertyRecord): IdentityDocument[] {
  if (IAM_POLICY_TYPES.includes(type)) return [{ field: "policy", statements: policyStatements(readKnown(() => props["policy"])) }];
  if (type !== IAM_ROLE) return [];
  return asRecords(readKnown(() => props["inlinePolicies"])).map((inline, index) => ({
    field: `inlinePolicies[${index}] (${asString(inline["name"]) ?? "unnamed"}).policy`,
    statements: policyStatements(inline["policy"]),
  }));
}

/** IAM action names and their wildcards compare case-insensitively ("iam:Put*" grants iam:PutRolePolicy). */
export function actionMatches(pattern: string, action: string): boolean {
  return globMatches(pattern.toLowerCase(), action.toLowerCase());
}

/** Which of `actions` a statement's Action list grants, wildcards expanded against that list. */
export function grantedActions(statement: PropertyRecord, actions: readonly string[]): string[] {
  const patterns = listOf(statement["Action"]);
  return actions.filter((action) => patterns.some((pattern) => actionMatches(pattern, action)));
}

/**
 * A Resource that reaches every resource of its kind: "*", or an ARN whose resource part is only
 * a wildcard (`arn:aws:iam::123456789012:role/*`, `arn:aws:secretsmanager:*:*:secret:*`). In S3
 * the part before the slash is a bucket's name, so `arn:aws:s3:::media/*` is one bucket.
 */
export function isBroadResource(resource: string): boolean {
  if (resource === "*") return true;
  const parts = resource.split(":");
  if (parts[0] !== "arn" || parts.length < 6) return false;
  const tail = parts.slice(5).join(":");
  if (parts[2] === "s3") return /^\*(\/\*)?$/.test(tail);
  return /^([a-z-]+[/:])?\*$/i.test(tail);
}

export function hasCondition(statement: PropertyRecord): boolean {
  return Object.keys(asRecord(statement["Condition"]) ?? {}).length > 0;
}
