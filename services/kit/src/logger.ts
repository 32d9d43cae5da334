import pino, { type DestinationStream, type Logger, type LoggerOptions } from "pino";

export type { Logger } from "pino";

/** Keys whose values are credentials wherever they appear in a log line. */
export const REDACTED_KEYS = [
  "password",
  "newPassword",
  "currentPassword",
  "passwordHash",
  "token",
  "accessToken",
  "refreshToken",
  "idToken",
  "secret",
  "clientSecret",
  "apiKey",
  "authorization",
  "Authorization",
  "cookie",
  "Cookie",
  "set-cookie",
] as const;

const SENSITIVE = new Set(REDACTED_KEYS.map((key) => key.toLowerCase()));
const CENSOR = "[redacted]";
const MAX_DEPTH = 8;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Replaces the value of every credential key (any case, any depth up to 8) with "[redacted]".
 * Copies only the objects on the way to a secret; anything without one is returned as is.
 * Errors are left to the err serializer, whose output is redacted the same way.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, index) => {
      const redacted = redactSecrets(item, depth + 1);
      if (redacted !== item) {
        copy ??= [...value];
        copy[index] = redacted;
      }
    });
    return copy ?? value;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const redacted = SENSITIVE.has(key.toLowerCase()) && item !== undefined && item !== null ? CENSOR : redactSecrets(item, depth + 1);
    if (redacted !== item) {
      copy ??= { ...value };
      copy[key] = redacted;
    }
  }
  return copy ?? value;
}

/**
 * The same keys as pino `redact` paths, for a logger built elsewhere. createLogger does not use
 * them: path redaction also runs on every child logger's bindings, i.e. on every request.
 */
export function redactionPaths(keys: readonly string[] = REDACTED_KEYS): string[] {
  const paths: string[] = [];
  for (const key of keys) {
    const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
    const join = (prefix: string) => (segment.startsWith("[") ? `${prefix}${segment}` : `${prefix}.${segment}`);
    paths.push(segment.startsWith("[") ? segment : key, join("*"), join("*.*"), join("*.*.*"));
  }
  return paths;
}

export interface LoggerConfig {
  service: string;
  level?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read what was written. */
  destination?: DestinationStream;
}

export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? "info",
    base: { service: config.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Redaction runs on lines actually written, not on every per-request child logger.
    formatters: { level: (label) => ({ level: label }), log: (object) => redactSecrets(object) as Record<string, unknown> },
    // The std serializer's result has its own prototype; spread into a plain object to walk it.
    serializers: { err: (error: Error) => redactSecrets({ ...pino.stdSerializers.err(error) }) },
  };
  return config.destination ? pino(options, config.destination) : pino(options);
}
