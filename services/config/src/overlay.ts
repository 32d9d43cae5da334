import { isJsonObject, JsonObject, JsonValue, setOwn } from "./json-patch";

/** The environment every other one is overlaid on. */
export const BASE_ENVIRONMENT = "base";

/**
 * An environment's entry is an RFC 7396 merge patch over the base entry: objects merge key by
 * key, arrays and scalars replace, and `null` removes a key the base sets. The familiar shape
 * lets an environment say "no proxy here" without a special marker.
 */
export function mergeOverlay(base: JsonValue, overlay: JsonValue): JsonValue {
  if (!isJsonObject(overlay)) return structuredClone(overlay);
  const merged: JsonObject = isJsonObject(base) ? structuredClone(base) : {};
  for (const [key, value] of Object.entries(overlay)) {
    if (value === null) delete merged[key];
    else setOwn(merged, key, mergeOverlay(Object.hasOwn(merged, key) ? (merged[key] as JsonValue) : null, value));
  }
  return merged;
}

/** The document an environment's consumers see: the base alone, or the base with the overlay. */
export function effectiveDocument(environment: string, base: JsonObject | undefined, overlay: JsonObject | undefined): JsonObject | undefined {
  if (environment === BASE_ENVIRONMENT) return base;
  if (overlay === undefined) return base;
  return mergeOverlay(base ?? {}, overlay) as JsonObject;
}
