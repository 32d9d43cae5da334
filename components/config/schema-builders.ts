import { Type, type SchemaOptions, type TSchema, type TUnsafe } from "@sinclair/typebox";

/**
 * TypeBox builders for the kinds of value the stack schema repeats. The schema they build is
 * plain JSON Schema, so one description serves ajv (validation and defaults), the published
 * editor schema, Pulumi.yaml's typed declarations and the README table.
 *
 * Two annotations beyond JSON Schema ride along: `patternErrorMessage` (what a pattern accepts,
 * in words; VS Code's YAML and JSON editors show it too) and `secret` (the value is a credential:
 * set it with `pulumi config set --secret`, so the stack file holds it as `{secure: ...}`).
 */

/** Formats ajv is taught in schema-validator.ts; each names a check with its own message. */
export const IMAGE_FORMAT = "image-reference";
export const CRON_FORMAT = "cron";

export interface FieldOptions extends SchemaOptions {
  description: string;
}

/** A string from a fixed set; a plain `enum` so a wrong value gets one error, not one per member. */
export function stringEnum<const V extends string>(values: readonly V[], options: FieldOptions & { default?: V }): TUnsafe<V> {
  return Type.Unsafe<V>({ type: "string", enum: [...values], ...options });
}

/** A string that must match `pattern`; `says` is what the pattern accepts, in words. */
export function patterned(pattern: RegExp, says: string, options: FieldOptions & { default?: string }): TUnsafe<string> {
  return Type.Unsafe<string>({ type: "string", pattern: pattern.source, patternErrorMessage: `must be ${says}`, ...options });
}

export function cpu(dflt: number) {
  return Type.Number({ description: "CPU cores, request = limit", default: dflt, minimum: 0.1, maximum: 64 });
}

export function memoryMiB(dflt: number, min: number) {
  return Type.Integer({ description: "memory in MiB, request = limit (the server's own settings are derived from it)", default: dflt, minimum: min, maximum: 262_144 });
}

export function storageGiB(dflt: number, description = "persistent volume size in GiB") {
  return Type.Integer({ description, default: dflt, minimum: 1, maximum: 16_384 });
}

/** A container image reference pinned to a tag or digest (never `latest`). */
export function image(description: string, dflt: string) {
  return Type.String({ description, default: dflt, format: IMAGE_FORMAT });
}

/** A five-field cron expression, UTC. */
export function cron(description: string, dflt: string) {
  return Type.String({ description, default: dflt, format: CRON_FORMAT });
}

/** A credential: never shown in errors, and held encrypted in the stack file. */
export function secretString(description: string, options: SchemaOptions = {}) {
  return Type.Optional(Type.String({ description, secret: true, ...options }));
}

/** An object key whose every field has a default, so the whole key may be left out. */
export function section<P extends Record<string, TSchema>>(description: string, properties: P) {
  return Type.Object(properties, { description, additionalProperties: false, default: {} });
}
