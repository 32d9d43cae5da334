import { httpErrors, type ServiceApp } from "@fundament/kit";

const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

interface ObjectSchema {
  properties?: Record<string, { type?: unknown }>;
}

function check(context: string, schema: unknown, values: unknown): void {
  const properties = (schema as ObjectSchema | undefined)?.properties;
  if (!properties || typeof values !== "object" || values === null) return;
  for (const [key, property] of Object.entries(properties)) {
    if (property.type !== "integer") continue;
    const raw = (values as Record<string, unknown>)[key];
    if (raw === undefined) continue;
    if (typeof raw !== "string" || !DECIMAL.test(raw)) throw httpErrors.badInput(`${context}.${key}`, "must be a decimal integer");
  }
}

/**
 * Path and query integers are text; Ajv's coercion would read them the way Number() does, so
 * "0x10", "1e3" or " " would pass as 16, 1000 and 0. A version number is written in decimal,
 * and anything else is refused before validation, naming the field.
 */
export function requireDecimalIntegers(app: ServiceApp): void {
  app.addHook("preValidation", async (request) => {
    const schema = request.routeOptions.schema;
    check("params", schema?.params, request.params);
    check("querystring", schema?.querystring, request.query);
  });
}
