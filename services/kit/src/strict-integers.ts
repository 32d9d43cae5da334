import type { FastifyInstance, preValidationHookHandler } from "fastify";
import { httpErrors } from "./errors";

/** What a decimal integer looks like as text: no sign but minus, no leading zeros, no blanks. */
const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

interface ObjectSchema {
  properties?: Record<string, { type?: unknown }>;
}

function integerKeys(schema: unknown): string[] {
  const properties = (schema as ObjectSchema | undefined)?.properties;
  if (!properties) return [];
  return Object.entries(properties)
    .filter(([, property]) => property.type === "integer")
    .map(([key]) => key);
}

function check(context: string, keys: readonly string[], values: unknown): void {
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
    const params = integerKeys(route.schema?.params);
    const querystring = integerKeys(route.schema?.querystring);
    if (params.length === 0 && querystring.length === 0) return;
    const strict: preValidationHookHandler = (request, _reply, done) => {
      check("params", params, request.params);
      check("querystring", querystring, request.query);
      done();
    };
    const existing = route.preValidation;
    route.preValidation = existing === undefined ? [strict] : [strict, ...(Array.isArray(existing) ? existing : [existing])];
  });
}
