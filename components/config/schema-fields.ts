/**
 * A small schema language for stack config. It is data, not code, so one description serves
 * three readers: the validator, the defaults, and the README's configuration reference.
 */

interface FieldBase {
  doc: string;
  /** Absent is an error rather than a default. */
  required?: boolean;
}

export interface StringField extends FieldBase {
  kind: "string";
  default?: string;
  pattern?: RegExp;
  /** Says in words what the pattern accepts, for error messages and the README. */
  patternDoc?: string;
  oneOf?: readonly string[];
}

export interface NumberField extends FieldBase {
  kind: "integer" | "number";
  default?: number;
  min: number;
  max: number;
}

export interface BooleanField extends FieldBase {
  kind: "boolean";
  default?: boolean;
}

/** A container image reference pinned to a tag or digest (never `latest`). */
export interface ImageField extends FieldBase {
  kind: "image";
  default: string;
}

/** A five-field cron expression, UTC. */
export interface CronField extends FieldBase {
  kind: "cron";
  default: string;
}

export interface ObjectField extends FieldBase {
  kind: "object";
  fields: Record<string, Field>;
}

export interface ArrayField extends FieldBase {
  kind: "array";
  items: Field;
  default?: unknown[];
  maxItems?: number;
}

/** A map keyed by names the schema knows in advance (e.g. the services). */
export interface RecordField extends FieldBase {
  kind: "record";
  keys: readonly string[];
  values: Field;
  default?: Record<string, unknown>;
}

/** A value whose shape is owned by a layer (broker model, buckets): that layer validates it. */
export interface CustomField extends FieldBase {
  kind: "custom";
  typeDoc: string;
  default: unknown;
  validate: (value: unknown, key: string) => string[];
}

export type Field = StringField | NumberField | BooleanField | ImageField | CronField | ObjectField | ArrayField | RecordField | CustomField;

/** How a field's type reads in the README table. */
export function typeName(field: Field): string {
  switch (field.kind) {
    case "string":
      return field.oneOf ? field.oneOf.map((v) => `"${v}"`).join(" \\| ") : "string";
    case "integer":
    case "number":
      return `${field.kind} (${field.min}–${field.max})`;
    case "boolean":
      return "boolean";
    case "image":
      return "image reference";
    case "cron":
      return "cron (5 fields, UTC)";
    case "object":
      return "object";
    case "array":
      return `list of ${typeName(field.items)}`;
    case "record":
      return `map (${field.keys.join(", ")})`;
    case "custom":
      return field.typeDoc;
  }
}
