import { Field, typeName } from "./schema-fields";
import { STACK_SCHEMA } from "./stack-schema";
import { defaultOf } from "./validate-field";
import { NAMESPACE } from "./load-config";

export interface ReferenceRow {
  key: string;
  type: string;
  default: string;
  meaning: string;
}

function shownDefault(field: Field): string {
  if (field.required) return "required";
  if (field.kind === "object") return "";
  const value = defaultOf(field);
  if (value === undefined) return "—";
  return `\`${JSON.stringify(value)}\``;
}

function rows(field: Field, key: string): ReferenceRow[] {
  if (field.kind === "object") return Object.entries(field.fields).flatMap(([name, child]) => rows(child, `${key}.${name}`));
  if (field.kind === "array" && field.items.kind === "object") {
    return [{ key, type: "list", default: shownDefault(field), meaning: field.doc }, ...rows(field.items, `${key}[]`)];
  }
  return [{ key, type: typeName(field), default: shownDefault(field), meaning: field.doc }];
}

/** Every leaf key of the stack config, in schema order: the README's configuration reference. */
export function configReference(): ReferenceRow[] {
  return Object.entries(STACK_SCHEMA).flatMap(([name, field]) => rows(field, `${NAMESPACE}:${name}`));
}

export function renderConfigReference(): string {
  const escape = (text: string) => text.replace(/\|/g, "\\|");
  return [
    "| key | type | default | meaning |",
    "|---|---|---|---|",
    ...configReference().map((r) => `| \`${r.key}\` | ${r.type} | ${escape(r.default)} | ${escape(r.meaning)} |`),
  ].join("\n");
}
