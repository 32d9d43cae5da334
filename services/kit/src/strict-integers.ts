import type { ValidateFunction } from "ajv";
import type { FastifySchema, FastifySchemaCompiler, FastifySchemaValidationError } from "fastify";

/** What Fastify accepts from a validator compiler. */
type Validator = ReturnType<FastifySchemaCompiler<FastifySchema>>;

/** What a decimal integer looks like as text: no sign but minus, no leading zeros, no blanks. */
const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

interface Schema {
  type?: unknown;
  properties?: Record<string, Schema>;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
}

/** A property that only an integer satisfies: `integer`, or a union whose every branch is one. */
function integerOnly(schema: Schema): boolean {
  if (schema.type === "integer") return true;
  const branches = schema.anyOf ?? schema.oneOf;
  return branches !== undefined && branches.length > 0 && branches.every(integerOnly);
}

/** Every property name an object schema declares, in its own properties or in its parts. */
function propertyNames(schema: Schema): Set<string> {
  const names = new Set(Object.keys(schema.properties ?? {}));
  for (const part of [...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) for (const name of propertyNames(part)) names.add(name);
  return names;
}

/**
 * The keys of an object schema that must hold integers. An intersection (allOf) adds each part's
 * keys; a union of objects (anyOf, oneOf) keeps a key only where every branch declaring it wants
 * an integer, so a key that another branch reads as text is left to Ajv.
 */
function integerKeys(schema: Schema | undefined): Set<string> {
  const keys = new Set<string>();
  if (schema === undefined) return keys;
  for (const [key, property] of Object.entries(schema.properties ?? {})) if (integerOnly(property)) keys.add(key);
  for (const part of schema.allOf ?? []) for (const key of integerKeys(part)) keys.add(key);
  const branches = (schema.anyOf ?? schema.oneOf ?? []).map((branch) => ({ declared: propertyNames(branch), integers: integerKeys(branch) }));
  for (const { integers } of branches) {
    for (const key of integers) if (branches.every((branch) => !branch.declared.has(key) || branch.integers.has(key))) keys.add(key);
  }
  return keys;
}

/** The first of `keys` whose value is not written as a plain decimal (a repeated key arrives as a list). */
function lenientKey(keys: ReadonlySet<string>, values: unknown): string | undefined {
  if (typeof values !== "object" || values === null) return undefined;
  for (const key of keys) {
    const raw = (values as Record<string, unknown>)[key];
    if (raw !== undefined && (typeof raw !== "string" || !DECIMAL.test(raw))) return key;
  }
  return undefined;
}

/**
 * Path, query and header integers are text; Ajv's coercion would read them the way Number()
 * does, so "0x10", "1e3" or " " would pass as 16, 1000 and 0. An integer is written in decimal,
 * and anything else fails validation before Ajv coerces it, naming the field.
 *
 * Wraps the coercing validator of one request part; a schema without integers keeps Ajv's
 * validator as it is, so the routes without them (the cached reads among them) pay nothing.
 */
export function requireDecimalIntegers(schema: unknown, validate: ValidateFunction): Validator {
  const keys = integerKeys(schema as Schema);
  if (keys.size === 0) return validate;
  return (data: unknown) => {
    const key = lenientKey(keys, data);
    if (key !== undefined) {
      const issue: FastifySchemaValidationError = { keyword: "decimalInteger", instancePath: `/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`, schemaPath: "#/properties", params: {}, message: "must be a decimal integer" };
      return { error: [issue] };
    }
    // The part is always an object here, so Ajv needs no parent to coerce or default its properties in place.
    return validate(data) ? { value: data } : { error: validate.errors ?? [] };
  };
}
