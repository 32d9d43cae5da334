import { isMap, isScalar, parseDocument } from "yaml";
import { NAMESPACE } from "./load-config";
import { STACK_SCHEMA } from "./stack-schema";

/**
 * The typed `config:` declarations of Pulumi.yaml, so the Pulumi CLI checks a stack's values
 * before the program runs. The CLI knows the types string, integer, boolean, array (with
 * `items`) and, since 3.187, object; it checks an object only for being a map, so the fields of
 * `fundament:postgres` and the like stay the program's (and the editor schema's) to check.
 *
 * The CLI treats a declared key without a default as required, so:
 * - a required key (fundament:target) is declared without a default;
 * - a key with a default is declared with it; an object key with `default: {}`, which the
 *   program fills field by field exactly as if the key were absent;
 * - an optional key without a default (fundament:environment, whose default is the stack name)
 *   and a value the CLI has no type for (a fractional number) are not declared.
 */

export interface ConfigDeclaration {
  type: "string" | "integer" | "boolean" | "array" | "object";
  description: string;
  items?: ItemsDeclaration;
  default?: unknown;
  secret?: boolean;
}

export interface ItemsDeclaration {
  type: ConfigDeclaration["type"];
  items?: ItemsDeclaration;
}

interface Node {
  type?: string;
  description?: string;
  default?: unknown;
  secret?: boolean;
  items?: Node;
  properties?: Record<string, Node>;
  required?: string[];
}

function itemsOf(node: Node): ItemsDeclaration | undefined {
  if (node.type === "string" || node.type === "integer" || node.type === "boolean" || node.type === "object") return { type: node.type };
  if (node.type === "array" && node.items) {
    const items = itemsOf(node.items);
    return items && { type: "array", items };
  }
  return undefined;
}

function declaration(node: Node, required: boolean): ConfigDeclaration | undefined {
  const type = itemsOf(node);
  if (!type) return undefined;
  const dflt = node.default !== undefined ? node.default : type.type === "object" ? {} : undefined;
  if (dflt === undefined && !required) return undefined;
  return {
    type: type.type,
    description: node.description ?? "",
    ...(type.items ? { items: type.items } : {}),
    ...(dflt !== undefined ? { default: dflt } : {}),
    ...(node.secret ? { secret: true } : {}),
  };
}

/** `fundament:<key>` to its declaration, in schema order. */
export function projectConfigDeclarations(): Record<string, ConfigDeclaration> {
  const root = STACK_SCHEMA as Node;
  const out: Record<string, ConfigDeclaration> = {};
  for (const [name, node] of Object.entries(root.properties ?? {})) {
    const declared = declaration(node, (root.required ?? []).includes(name));
    if (declared) out[`${NAMESPACE}:${name}`] = declared;
  }
  return out;
}

const GENERATED_NOTE = ` The ${NAMESPACE}: declarations are generated from components/config/stack-schema.ts
 (npx tsx scripts/config-reference.ts --write); edit the schema, not these lines.`;

/** Pulumi.yaml's text with its `fundament:` declarations replaced by the schema's; every other line kept. */
export function renderPulumiYaml(current: string): string {
  const document = parseDocument(current);
  const config = document.get("config");
  if (!isMap(config)) throw new Error("Pulumi.yaml has no config: map");
  for (const item of [...config.items]) {
    const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
    if (key.startsWith(`${NAMESPACE}:`)) config.delete(key);
  }
  for (const [key, declared] of Object.entries(projectConfigDeclarations())) config.set(key, document.createNode(declared));
  config.commentBefore = GENERATED_NOTE;
  return document.toString({ lineWidth: 0 });
}
