import { NAMESPACE } from "./load-config";
import { CRON_FORMAT, IMAGE_FORMAT } from "./schema-builders";
import { STACK_SCHEMA } from "./stack-schema";

/** The README's configuration reference: one row per leaf key of the stack schema. */

export interface ReferenceRow {
  key: string;
  type: string;
  default: string;
  meaning: string;
}

/** The parts of a JSON Schema node the table reads. */
export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
}

/** How a value's type reads in the README table. */
export function typeName(node: SchemaNode): string {
  if (node.enum) return node.type === "string" ? node.enum.map((v) => `"${String(v)}"`).join(" \\| ") : `one of ${node.enum.join(", ")}`;
  if (node.format === IMAGE_FORMAT) return "image reference";
  if (node.format === CRON_FORMAT) return "cron (5 fields, UTC)";
  switch (node.type) {
    case "integer":
    case "number":
      if (node.exclusiveMinimum !== undefined) return `${node.type} (> ${node.exclusiveMinimum})`;
      return node.minimum === undefined ? node.type : `${node.type} (${node.minimum}–${node.maximum})`;
    case "array":
      return `list of ${typeName(node.items ?? {})}`;
    case "object": {
      const values = Object.values(node.patternProperties ?? {})[0];
      return values ? `map of name to ${typeName(values)}` : "object";
    }
    default:
      return node.type ?? "any";
  }
}

function shownDefault(node: SchemaNode, required: boolean): string {
  if (required && node.default === undefined) return "required";
  if (node.default === undefined) return "—";
  return `\`${JSON.stringify(node.default)}\``;
}

function rows(node: SchemaNode, key: string, required: boolean): ReferenceRow[] {
  if (node.type === "object" && node.properties) {
    return Object.entries(node.properties).flatMap(([name, child]) => rows(child, `${key}.${name}`, (node.required ?? []).includes(name)));
  }
  const row = { key, type: typeName(node), default: shownDefault(node, required), meaning: node.description ?? "" };
  if (node.type === "array" && node.items?.type === "object" && node.items.properties) return [{ ...row, type: "list" }, ...rows(node.items, `${key}[]`, false)];
  return [row];
}

/** Every leaf key of the stack config, in schema order. */
export function configReference(): ReferenceRow[] {
  const root = STACK_SCHEMA as SchemaNode;
  return Object.entries(root.properties ?? {}).flatMap(([name, node]) => rows(node, `${NAMESPACE}:${name}`, (root.required ?? []).includes(name)));
}

export function renderConfigReference(): string {
  const escape = (text: string) => text.replace(/\|/g, "\\|");
  return [
    "| key | type | default | meaning |",
    "|---|---|---|---|",
    ...configReference().map((r) => `| \`${r.key}\` | ${r.type} | ${escape(r.default)} | ${escape(r.meaning)} |`),
  ].join("\n");
}
