import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import type { EnforcementLevel, PolicyPackConfig } from "@pulumi/policy";
import type { FundamentPolicy } from "./policy-definition";

const ENFORCEMENT_LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

export type PolicyProperties = Record<string, unknown> & { enforcementLevel?: EnforcementLevel };

/**
 * Checks pack configuration the way the Pulumi CLI does before it runs a pack (each policy's
 * configSchema, JSON Schema draft 7), fills in schema defaults, and throws one error naming
 * every bad field.
 */
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });

/** Compiling a schema costs far more than checking a config against it; policies and their schemas never change. */
const compiled = new WeakMap<FundamentPolicy, ValidateFunction>();

function validatorFor(policy: FundamentPolicy): ValidateFunction {
  let validate = compiled.get(policy);
  if (!validate) {
    validate = ajv.compile({
      type: "object",
      properties: policy.configSchema?.properties ?? {},
      required: policy.configSchema?.required ?? [],
      additionalProperties: false,
    });
    compiled.set(policy, validate);
  }
  return validate;
}

export function validatePolicyPackConfig(config: PolicyPackConfig, policies: readonly FundamentPolicy[]): Map<string, PolicyProperties> {
  const byName = new Map(policies.map((policy) => [policy.name, policy]));
  const problems: string[] = [];
  const resolved = new Map<string, PolicyProperties>();
  for (const [name, entry] of Object.entries(config)) {
    const policy = byName.get(name);
    if (!policy) {
      problems.push(`policy config ${name}: unknown policy${suggest(name, [...byName.keys()])}`);
      continue;
    }
    const properties: PolicyProperties = typeof entry === "string" ? { enforcementLevel: entry } : { ...entry };
    if (properties.enforcementLevel !== undefined && !ENFORCEMENT_LEVELS.includes(properties.enforcementLevel)) {
      problems.push(`policy config ${name}.enforcementLevel: must be one of ${ENFORCEMENT_LEVELS.join(", ")} (got ${JSON.stringify(properties.enforcementLevel)})`);
    }
    const { enforcementLevel, ...rest } = structuredClone(properties);
    const validate = validatorFor(policy);
    if (!validate(rest)) {
      for (const error of validate.errors ?? []) problems.push(`policy config ${name}${fieldOf(error)}: ${messageOf(error)}${valueOf(error, rest)}`);
    }
    resolved.set(name, enforcementLevel === undefined ? rest : { ...rest, enforcementLevel });
  }
  for (const policy of policies) {
    if (resolved.has(policy.name)) continue;
    const defaults: Record<string, unknown> = {};
    // Filling defaults is all that is wanted here; an empty config cannot fail a schema with no required keys.
    validatorFor(policy)(defaults);
    resolved.set(policy.name, defaults);
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return resolved;
}

function messageOf(error: ErrorObject): string {
  // minProperties is how the exemption schema says "a name or urn pattern besides the reason".
  if (error.keyword === "minProperties") return "must give a name or urn pattern besides the reason";
  return error.message ?? "is invalid";
}

/** "/exemptions/0/reason" becomes ".exemptions[0].reason"; an unknown key is named too. */
function fieldOf(error: ErrorObject): string {
  const path = error.instancePath.split("/").slice(1).map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`)).join("");
  const extra = (error.params as { additionalProperty?: unknown }).additionalProperty;
  return typeof extra === "string" ? `${path}.${extra}` : path;
}

function valueOf(error: ErrorObject, root: unknown): string {
  if (error.keyword === "additionalProperties" || error.keyword === "required") return "";
  let current: unknown = root;
  for (const part of error.instancePath.split("/").slice(1)) {
    current = typeof current === "object" && current !== null ? (current as Record<string, unknown>)[part] : undefined;
  }
  return ` (got ${JSON.stringify(current)})`;
}

function suggest(name: string, names: string[]): string {
  const close = names.find((candidate) => candidate.includes(name) || name.includes(candidate) || sharedPrefix(candidate, name) >= 6);
  return close === undefined ? " (policies/README.md lists them)" : ` (did you mean ${close}?)`;
}

function sharedPrefix(a: string, b: string): number {
  let index = 0;
  while (index < a.length && a[index] === b[index]) index += 1;
  return index;
}
