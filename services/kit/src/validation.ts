import type { FastifyInstance, FastifySchema, FastifySchemaCompiler } from "fastify";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { requireDecimalIntegers } from "./strict-integers";

function createAjv(coerceTypes: false | "array"): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    useDefaults: true,
    // Unknown properties are an error the caller sees, not something silently dropped.
    removeAdditional: false,
    allErrors: false,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
  });
  addFormats(ajv);
  return ajv;
}

/**
 * Query strings, params and headers arrive as text, so they are coerced to the schema's types,
 * integers only from plain decimals; a JSON body is not: `{"quantity": "3"}` against an integer
 * is the client's bug and is refused.
 */
export function installValidation(app: FastifyInstance): void {
  const coercing = createAjv("array");
  const strict = createAjv(false);
  const compiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) =>
    httpPart === "body" ? strict.compile(schema as object) : requireDecimalIntegers(schema, coercing.compile(schema as object));
  app.setValidatorCompiler(compiler);
}
