import { HttpError } from "@fundament/kit";
import type { SchemaViolation } from "./schema-validation";

/**
 * Failures a caller can act on, in the kit's error format: the message starts with the request
 * field it is about ("body.document/db/port: must be <= 65535") and `details` lists them.
 */
export class ConfigError extends HttpError {
  constructor(statusCode: number, code: string, field: string, reason: string, details?: unknown) {
    super(statusCode, code, `${field}: ${reason}`, details ?? [{ field, reason }]);
    this.name = "ConfigError";
  }
}

export class NotFoundError extends ConfigError {
  constructor(field: string, reason: string) {
    super(404, "NOT_FOUND", field, reason);
  }
}

export class PreconditionFailedError extends ConfigError {
  constructor(
    readonly expected: number,
    readonly current: number,
  ) {
    super(412, "VERSION_CONFLICT", "headers.if-match", `expected version ${expected} but the current version is ${current}`, {
      field: "headers.if-match",
      expectedVersion: expected,
      currentVersion: current,
    });
  }
}

/**
 * A watcher claims a version the entry never reached (the database was restored from a backup,
 * or the cursor belongs to another entry): waiting would silently skip the versions up to it.
 */
export class CursorAheadError extends ConfigError {
  constructor(field: string, claimed: number, current: number) {
    super(409, "CURSOR_AHEAD", field, `version ${claimed} is ahead of the current version ${current}; resume from ${current}`, {
      field,
      claimedVersion: claimed,
      currentVersion: current,
    });
  }
}

export class InvalidSchemaError extends ConfigError {
  constructor(reason: string) {
    super(400, "INVALID_SCHEMA", "body.schema", `is not a usable JSON Schema: ${reason}`);
  }
}

/** A violation found while checking an environment's effective document names that environment. */
export interface LocatedViolation extends SchemaViolation {
  environment: string;
}

export class SchemaViolationError extends ConfigError {
  constructor(
    field: string,
    readonly violations: LocatedViolation[],
  ) {
    const first = violations[0];
    const where = first === undefined || first.path === "/" ? field : `${field}${first.path}`;
    const others = violations.length > 1 ? ` (and ${violations.length - 1} more, see details)` : "";
    const context = first === undefined ? "" : ` in the effective document of environment ${first.environment}`;
    const reason = `${first?.message ?? "does not match the namespace schema"}${context}${others}`;
    super(422, "SCHEMA_VIOLATION", where, reason, violations.map((v) => ({ field: `${field}${v.path === "/" ? "" : v.path}`, reason: v.message, environment: v.environment })));
    this.name = "SchemaViolationError";
  }
}

/** PostgreSQL gave up waiting (statement timeout, lock timeout, serialization failure, deadlock). */
const BUSY_CODES = new Set(["57014", "55P03", "40001", "40P01"]);

export function isBusyDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && BUSY_CODES.has(code);
}

/** A write that waited too long for the namespace lock: nothing was written, trying again is safe. */
export class NamespaceBusyError extends HttpError {
  constructor(namespace: string) {
    super(503, "NAMESPACE_BUSY", `params.namespace: ${namespace} is being changed by other writers; nothing was written, retry`, [{ field: "params.namespace", reason: "busy" }], {
      "retry-after": "1",
    });
    this.name = "NamespaceBusyError";
  }
}
