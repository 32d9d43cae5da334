import Ajv, { ErrorObject, ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { escapePointerToken, JsonObject, JsonValue } from "./json-patch";

/** One reason a document breaks its namespace's schema, at a JSON pointer into the document. */
export interface SchemaViolation {
  path: string;
  message: string;
}

export type SchemaCheck = { valid: true } | { valid: false; violations: SchemaViolation[] };

/**
 * Ajv reports `required` and `additionalProperties` at the parent object; the user wants the
 * key that is missing or unexpected, so the pointer is extended with it.
 */
export function violationOf(error: ErrorObject): SchemaViolation {
  const params = error.params as Record<string, unknown>;
  const key =
    typeof params.missingProperty === "string"
      ? params.missingProperty
      : typeof params.additionalProperty === "string"
        ? params.additionalProperty
        : typeof params.propertyName === "string"
          ? params.propertyName
          : undefined;
  const path = key === undefined ? error.instancePath : `${error.instancePath}/${escapePointerToken(key)}`;
  return { path: path === "" ? "/" : path, message: error.message ?? "is invalid" };
}

export class NamespaceSchema {
  private constructor(private readonly validateFn: ValidateFunction) {}

  /** Compiles a namespace's JSON Schema; throws an Error whose message says why it is not one. */
  static compile(schema: JsonValue): NamespaceSchema {
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) throw new Error("must be a JSON Schema object");
    // A fresh Ajv per schema: namespaces may reuse `$id`s, and a shared instance would refuse the second.
    const ajv = new Ajv({ allErrors: true, strict: false, validateSchema: true });
    addFormats(ajv);
    try {
      return new NamespaceSchema(ajv.compile(schema));
    } catch (error) {
      throw new Error(error instanceof Error ? error.message : String(error));
    }
  }

  check(document: JsonObject): SchemaCheck {
    if (this.validateFn(document)) return { valid: true };
    const seen = new Set<string>();
    const violations: SchemaViolation[] = [];
    for (const error of this.validateFn.errors ?? []) {
      const violation = violationOf(error);
      const id = `${violation.path} ${violation.message}`;
      if (!seen.has(id)) {
        seen.add(id);
        violations.push(violation);
      }
    }
    return { valid: false, violations };
  }
}
