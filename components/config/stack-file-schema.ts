import { NAMESPACE } from "./load-config";
import { STACK_SCHEMA } from "./stack-schema";

/**
 * The JSON Schema of a `Pulumi.<stack>.yaml` file as it sits on disk, for editors (the
 * `# yaml-language-server: $schema=` line of each stack file) and `schema/stack-config.schema.json`.
 * It differs from the schema the program validates with in what the file holds, not in the rules:
 * - keys sit under `config:` with the `fundament:` prefix, beside other namespaces' keys;
 * - a key with a default may be left out (the program's schema lists it as required so the
 *   validated type has it);
 * - a secret is stored encrypted as `{secure: ...}`;
 * - `pulumi config set` stores top-level values as text, and `--path` stores what is neither an
 *   integer nor true/false as text too, so such values may be strings that look like numbers.
 * The formats `image-reference` and `cron` are this project's (editors ignore unknown formats;
 * the program checks them), and `patternErrorMessage` is the wording VS Code's editors show.
 */

export const STACK_FILE_SCHEMA_PATH = "schema/stack-config.schema.json";

type Node = Record<string, unknown> & {
  type?: string | string[];
  properties?: Record<string, Node>;
  patternProperties?: Record<string, Node>;
  required?: string[];
  items?: Node;
  default?: unknown;
  secret?: boolean;
};

const SECURE: Node = {
  type: "object",
  description: "an encrypted value, as `pulumi config set --secret` writes it",
  properties: { secure: { type: "string" } },
  required: ["secure"],
  additionalProperties: false,
};

const DECIMAL_TEXT = "^-?[0-9]+(\\.[0-9]+)?$";
const INTEGER_TEXT = "^-?[0-9]+$";

function fileForm(node: Node, topLevel: boolean): Node {
  const { secret, ...rest } = node;
  const out: Node = { ...rest };
  if (out.properties) {
    const properties = out.properties;
    out.properties = Object.fromEntries(Object.entries(properties).map(([name, child]) => [name, fileForm(child, false)]));
    const required = (out.required ?? []).filter((name) => properties[name].default === undefined);
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  if (out.patternProperties) {
    out.patternProperties = Object.fromEntries(Object.entries(out.patternProperties).map(([pattern, child]) => [pattern, fileForm(child, false)]));
  }
  if (out.items) out.items = fileForm(out.items, false);
  if (out.type === "number") Object.assign(out, { type: ["number", "string"], pattern: DECIMAL_TEXT });
  if (topLevel && out.type === "integer") Object.assign(out, { type: ["integer", "string"], pattern: INTEGER_TEXT });
  if (topLevel && out.type === "boolean") Object.assign(out, { type: ["boolean", "string"], enum: [true, false, "true", "false"] });
  if (secret) return { description: out.description, anyOf: [out, SECURE] };
  return out;
}

export function stackFileSchema(): Record<string, unknown> {
  // A JSON round trip drops TypeBox's symbol-keyed metadata and leaves plain JSON Schema.
  const program = JSON.parse(JSON.stringify(STACK_SCHEMA)) as Node;
  const keys = Object.entries(program.properties ?? {});
  const config: Node = {
    type: "object",
    description: `stack configuration: the ${NAMESPACE}: keys below, and keys of other namespaces (aws:region, ...) that belong to providers`,
    properties: Object.fromEntries(keys.map(([name, node]) => [`${NAMESPACE}:${name}`, fileForm(node, true)])),
    required: (program.required ?? []).filter((name) => program.properties?.[name].default === undefined).map((name) => `${NAMESPACE}:${name}`),
    patternProperties: { [`^(?!${NAMESPACE}:)`]: {} },
    additionalProperties: false,
  };
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "fundament stack settings (Pulumi.<stack>.yaml)",
    description: "Generated from components/config/stack-schema.ts by `npx tsx scripts/config-reference.ts --write`; do not edit.",
    type: "object",
    required: ["config"],
    properties: {
      config,
      secretsprovider: { type: "string", description: "the stack's secrets provider (passphrase, awskms://...)" },
      encryptedkey: { type: "string", description: "the data key, encrypted by the secrets provider" },
      encryptionsalt: { type: "string", description: "salt of the passphrase secrets provider" },
      environment: { type: ["array", "object"], description: "Pulumi ESC environments the stack imports" },
    },
  };
}

export function renderStackFileSchema(): string {
  return `${JSON.stringify(stackFileSchema(), null, 2)}\n`;
}
