import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import type { TSchema } from "@sinclair/typebox";
import { cronProblem } from "./cron";
import { imageReferenceProblem } from "./image-reference";
import { CRON_FORMAT, IMAGE_FORMAT } from "./schema-builders";

/**
 * ajv checks a config against the TypeBox schema and fills its defaults; this file turns ajv's
 * errors into the lines a user acts on: the full key first, the reason, the value seen, and a
 * suggestion for a misspelt key (`fundament:postgres.memroyMiB: unknown key (did you mean
 * fundament:postgres.memoryMiB?)`).
 */

/** Why a string fails a format, by format name; ajv only knows that it failed. */
const FORMAT_PROBLEMS: Record<string, (value: string) => string | undefined> = {
  [IMAGE_FORMAT]: imageReferenceProblem,
  [CRON_FORMAT]: cronProblem,
};

/** An ajv that knows the schema's formats and annotations, coerces the text Pulumi hands over and fills defaults. */
export function configAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    useDefaults: true,
    // Pulumi passes top-level scalars as text ("true", "8"), and `--path` stores floats as text.
    coerceTypes: true,
    verbose: true,
    keywords: ["patternErrorMessage", "secret"],
  });
  for (const [name, problem] of Object.entries(FORMAT_PROBLEMS)) ajv.addFormat(name, { type: "string", validate: (value: string) => problem(value) === undefined });
  return ajv;
}

/** Edit distance, for "did you mean" on unknown keys. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

export function shown(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

interface SchemaNode {
  type?: string | string[];
  description?: string;
  properties?: Record<string, SchemaNode>;
  patternErrorMessage?: string;
  secret?: boolean;
  enum?: unknown[];
}

/** `prefix` then each path segment: `.name` for a property, `[i]` for a list entry. */
function keyOf(prefix: string, instancePath: string, data: unknown): string {
  let key = prefix;
  let node: unknown = data;
  for (const raw of instancePath.split("/").slice(1)) {
    const segment = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    key += Array.isArray(node) ? `[${segment}]` : key.endsWith(":") ? segment : `.${segment}`;
    node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[segment] : undefined;
  }
  return key;
}

function child(parent: string, name: string): string {
  return parent.endsWith(":") ? `${parent}${name}` : `${parent}.${name}`;
}

function typeReason(schema: SchemaNode, value: unknown): string {
  const types = ([] as string[]).concat(schema.type ?? []);
  if (types.includes("object")) return `must be an object with keys ${Object.keys(schema.properties ?? {}).join(", ")}`;
  if (types.includes("integer")) {
    const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
    return typeof number === "number" && Number.isFinite(number) ? "must be a whole number" : "must be a number";
  }
  if (types.includes("number")) return "must be a number";
  if (types.includes("boolean")) return "must be true or false";
  if (types.includes("array")) return "must be a list";
  return "must be a string";
}

/** One line for one ajv error, and the key it is about (so a key's later errors can be dropped). */
function problemOf(error: ErrorObject, prefix: string, data: unknown): { key: string; line: string } {
  const at = keyOf(prefix, error.instancePath, data);
  const schema = (error.parentSchema ?? {}) as SchemaNode;
  const got = schema.secret ? "(got a secret value, not shown)" : `(got ${shown(error.data)})`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "additionalProperties": {
      const name = String(params.additionalProperty);
      const key = child(at, name);
      const suggestion = closest(name, Object.keys(schema.properties ?? {}));
      return { key, line: `${key}: unknown key${suggestion ? ` (did you mean ${child(at, suggestion)}?)` : ""}` };
    }
    case "required": {
      const name = String(params.missingProperty);
      const key = child(at, name);
      const description = schema.properties?.[name]?.description;
      return { key, line: `${key}: required${description ? ` (${description})` : ""}` };
    }
    case "type":
      return { key: at, line: `${at}: ${typeReason(schema, error.data)} ${got}` };
    case "enum":
      return { key: at, line: `${at}: must be one of ${(schema.enum ?? []).join(", ")} ${got}` };
    case "pattern":
      return { key: at, line: `${at}: ${schema.patternErrorMessage ?? `must match /${String(params.pattern)}/`} ${got}` };
    case "format": {
      const problem = FORMAT_PROBLEMS[String(params.format)]?.(String(error.data)) ?? `must be a ${String(params.format)}`;
      return { key: at, line: `${at}: ${problem} ${got}` };
    }
    case "minimum":
      return { key: at, line: `${at}: must be at least ${String(params.limit)} ${got}` };
    case "maximum":
      return { key: at, line: `${at}: must be at most ${String(params.limit)} ${got}` };
    case "exclusiveMinimum":
      return { key: at, line: `${at}: must be greater than ${String(params.limit)} ${got}` };
    case "minLength":
      return { key: at, line: `${at}: ${params.limit === 1 ? "must not be empty" : `must have at least ${String(params.limit)} characters`} ${got}` };
    case "maxItems":
      return { key: at, line: `${at}: must have at most ${String(params.limit)} entries (got ${(error.data as unknown[]).length})` };
    case "minProperties":
      return { key: at, line: `${at}: must have at least ${String(params.limit)} entr${params.limit === 1 ? "y" : "ies"} ${got}` };
    default:
      return { key: at, line: `${at}: ${error.message ?? "is invalid"} ${got}` };
  }
}

/** Problem lines for ajv's errors, one per key (a wrong type makes the other checks of that key noise). */
export function problemLines(errors: readonly ErrorObject[], prefix: string, data: unknown): string[] {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const error of errors) {
    const { key, line } = problemOf(error, prefix, data);
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(line);
  }
  return lines;
}

export interface Checked<T> {
  value: T;
  problems: string[];
}

/**
 * A checker for `schema`: it validates a copy of its input (the caller's object is never
 * changed), fills defaults into the copy and names every problem at once under `prefix`.
 */
export function schemaChecker<T>(schema: TSchema, prefix: string): (input: unknown) => Checked<T> {
  const validate: ValidateFunction = configAjv().compile(schema);
  return (input) => {
    const copy: unknown = structuredClone(input);
    const valid = validate(copy);
    return { value: copy as T, problems: valid ? [] : problemLines(validate.errors ?? [], prefix, copy) };
  };
}
