import { join } from "node:path";
import ts from "typescript";
import { RecordedResource } from "../../scripts/mock-engine";

type ModelClass = new (data: Record<string, unknown>) => { validate(): void };

/** API groups served by CRDs, and the kubernetes-models package that carries their schemas. */
const CRD_PACKAGES: Record<string, string> = { "autoscaling.k8s.io": "@kubernetes-models/autoscaler" };

const NODE_MODULES = join(__dirname, "..", "..", "node_modules");

/*
 * kubernetes-models 4.5.1 carries the Kubernetes 1.33 schema (Lifecycle.stopSignal, no
 * PodSpec.hostnameOverride of 1.34); the cluster runs 1.35. No release carries 1.35's: the next one,
 * 5.1.0, is already past it (PodSpec.schedulingGroup, no workloadRef) and needs Node 22. The older
 * schema is the stricter check for what the stack renders: a field it knows, 1.35 serves too (no
 * core, apps, batch, networking or policy field used here was removed in 1.34 or 1.35), while a
 * newer schema would pass fields a 1.35 API server drops.
 */

/** Module path of the kubernetes-models class for a Pulumi Kubernetes type token, and its typings. */
function modelPath(type: string): { path: string; typings: string; kind: string } | undefined {
  const match = /^kubernetes:([^/]+)\/([^:]+):(\w+)$/.exec(type);
  if (!match) return undefined;
  const [, group, version, token] = match;
  // A <Kind>Patch resource applies a partial <Kind>: it is checked against that kind's schema.
  const kind = token.endsWith("Patch") ? token.slice(0, -"Patch".length) : token;
  const path = CRD_PACKAGES[group] ? `${CRD_PACKAGES[group]}/${group}/${version}/${kind}` : group === "core" ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
  return { path, typings: join(NODE_MODULES, path), kind };
}

const models = new Map<string, ModelClass | undefined>();

/** Loads the kubernetes-models class for a Pulumi Kubernetes type token (its OpenAPI schema). */
export function modelFor(type: string): ModelClass | undefined {
  if (models.has(type)) return models.get(type);
  const found = modelPath(type);
  if (!found) return undefined;
  try {
    return (require(found.path) as Record<string, ModelClass>)[found.kind];
  } catch {
    return undefined;
  }
}

/**
 * The generated validators check types, formats and required fields but accept any unknown field,
 * which is how a typo such as `readinesProbe` would reach the API server (and be dropped there
 * without a word). The same models ship TypeScript interfaces generated from the same OpenAPI
 * schema; the compiler's view of them says which fields exist at every level.
 */
class FieldCatalog {
  private readonly checker: ts.TypeChecker;
  private readonly roots = new Map<string, ts.Type>();

  constructor(types: string[]) {
    const entries = types.flatMap((type) => {
      const found = modelPath(type);
      if (!found) return [];
      return [{ type, file: found.typings, kind: found.kind }];
    });
    const virtual = "/virtual/kubernetes-object-types.ts";
    const source = entries.map((e, i) => `import type { I${e.kind} as T${i} } from ${JSON.stringify(e.file)};\ndeclare const v${i}: T${i};`).join("\n");
    const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, moduleResolution: ts.ModuleResolutionKind.Node10, target: ts.ScriptTarget.ES2022, types: [] };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (fileName, language, onError, shouldCreate) =>
      fileName === virtual ? ts.createSourceFile(fileName, source, language) : getSourceFile(fileName, language, onError, shouldCreate);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (fileName) => fileName === virtual || fileExists(fileName);
    const program = ts.createProgram([virtual], options, host);
    this.checker = program.getTypeChecker();
    const file = program.getSourceFile(virtual)!;
    let index = 0;
    ts.forEachChild(file, (node) => {
      if (!ts.isVariableStatement(node)) return;
      const declaration = node.declarationList.declarations[0];
      this.roots.set(entries[index++].type, this.checker.getTypeAtLocation(declaration.name));
    });
  }

  /** Paths of fields the schema does not know, in `value` read as `type`. */
  unknownFields(resourceType: string, value: unknown): string[] {
    const root = this.roots.get(resourceType);
    if (!root) return [`no schema for ${resourceType}`];
    const problems: string[] = [];
    this.walk(value, root, "", problems);
    return problems;
  }

  private walk(value: unknown, type: ts.Type, path: string, problems: string[]): void {
    if (value === null || value === undefined || typeof value !== "object") return;
    const members = (type.isUnion() ? type.types : [type]).filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
    if (members.some((t) => t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown))) return;
    if (Array.isArray(value)) {
      const array = members.find((t) => this.checker.isArrayType(t));
      if (!array) return;
      const element = this.checker.getTypeArguments(array as ts.TypeReference)[0];
      value.forEach((item, i) => this.walk(item, element, `${path}[${i}]`, problems));
      return;
    }
    const objects = members.filter((t) => t.flags & ts.TypeFlags.Object && !this.checker.isArrayType(t));
    if (objects.length === 0) return;
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const where = path ? `${path}.${key}` : key;
      const property = objects.map((t) => t.getProperty(key)).find((p) => p !== undefined);
      if (property) {
        this.walk(child, this.checker.getTypeOfSymbol(property), where, problems);
        continue;
      }
      const index = objects.map((t) => this.checker.getIndexInfoOfType(t, ts.IndexKind.String)).find((i) => i !== undefined);
      if (index) this.walk(child, index.type, where, problems);
      else problems.push(`${where}: unknown field`);
    }
  }
}

let catalog: FieldCatalog | undefined;
const catalogTypes = new Set<string>();

function catalogFor(type: string): FieldCatalog {
  if (!catalog || !catalogTypes.has(type)) {
    catalogTypes.add(type);
    catalog = new FieldCatalog([...catalogTypes]);
  }
  return catalog;
}

/**
 * Loads the models of these types (CRD packages are ES modules, so they are imported here) and
 * builds the field catalog for all of them at once: one compiler run instead of one per type.
 */
export async function prepareSchemas(resources: RecordedResource[]): Promise<void> {
  for (const type of new Set(resources.map((r) => r.type))) {
    catalogTypes.add(type);
    const found = modelPath(type);
    if (!found || models.has(type) || modelFor(type)) continue;
    try {
      models.set(type, ((await import(found.path)) as Record<string, ModelClass>)[found.kind]);
    } catch {
      models.set(type, undefined);
    }
  }
  catalog = new FieldCatalog([...catalogTypes]);
}

/** Kubernetes API objects of a stack: everything the Kubernetes provider sends to the API server. */
export function isApiObject(resource: RecordedResource): boolean {
  return resource.type.startsWith("kubernetes:") && !resource.type.startsWith("kubernetes:index") && !resource.type.startsWith("kubernetes:helm.sh/");
}

/** Why an object is invalid against the Kubernetes OpenAPI schema (unknown fields included), or undefined. */
export function schemaProblem(resource: RecordedResource, inputs: Record<string, unknown>): string | undefined {
  const Model = modelFor(resource.type);
  if (!Model) return `no schema for ${resource.type}`;
  try {
    new Model(inputs).validate();
  } catch (error) {
    return String(error);
  }
  const unknown = catalogFor(resource.type).unknownFields(resource.type, inputs);
  return unknown.length > 0 ? `unknown fields: ${unknown.join(", ")}` : undefined;
}
