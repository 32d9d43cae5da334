import type { FastifyInstance, preValidationHookHandler } from "fastify";
import { httpErrors } from "./errors";

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

function check(context: string, keys: ReadonlySet<string>, values: unknown): void {
  if (typeof values !== "object" || values === null) return;
  for (const key of keys) {
    const raw = (values as Record<string, unknown>)[key];
    if (raw === undefined) continue;
    if (typeof raw !== "string" || !DECIMAL.test(raw)) throw httpErrors.badInput(`${context}.${key}`, "must be a decimal integer");
  }
}

/**
 * Path and query integers are text; Ajv's coercion would read them the way Number() does, so
 * "0x10", "1e3" or " " would pass as 16, 1000 and 0. A version number is written in decimal,
 * and anything else is refused before validation, naming the field.
 *
 * The check is added to the routes that have such integers only, when they are declared: the
 * others (the cached reads among them) carry no hook for it on every request. createService
 * installs it before any route exists, so every service's routes get it.
 */
export function requireDecimalIntegers(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const params = integerKeys(route.schema?.params as Schema | undefined);
    const querystring = integerKeys(route.schema?.querystring as Schema | undefined);
    if (params.size === 0 && querystring.size === 0) return;
    const strict: preValidationHookHandler = (request, _reply, done) => {
      check("params", params, request.params);
      check("querystring", querystring, request.query);
      done();
    };
    const existing = route.preValidation;
    route.preValidation = existing === undefined ? [strict] : [strict, ...(Array.isArray(existing) ? existing : [existing])];
  });
}
