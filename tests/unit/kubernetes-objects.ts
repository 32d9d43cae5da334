import { RecordedResource } from "../../scripts/mock-engine";

/** Loads the kubernetes-models class for a Pulumi Kubernetes type token (its OpenAPI schema). */
export function modelFor(type: string): (new (data: Record<string, unknown>) => { validate(): void }) | undefined {
  const match = /^kubernetes:([^/]+)\/([^:]+):(\w+)$/.exec(type);
  if (!match) return undefined;
  const [, group, version, token] = match;
  // A <Kind>Patch resource applies a partial <Kind>: it is checked against that kind's schema.
  const kind = token.endsWith("Patch") ? token.slice(0, -"Patch".length) : token;
  const path = group === "core" ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
  const module = require(path) as Record<string, new (data: Record<string, unknown>) => { validate(): void }>;
  return module[kind];
}

/** Why an object is invalid against the Kubernetes OpenAPI schema, or undefined. */
export function schemaProblem(resource: RecordedResource, inputs: Record<string, unknown>): string | undefined {
  const Model = modelFor(resource.type);
  if (!Model) return `no schema for ${resource.type}`;
  try {
    new Model(inputs).validate();
    return undefined;
  } catch (error) {
    return String(error);
  }
}
