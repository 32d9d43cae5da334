import { readFileSync } from "node:fs";
import type Ajv from "ajv";
import type { ErrorObject } from "ajv";
import envSchema from "env-schema";
import { Type, type TSchema } from "@sinclair/typebox";

/**
 * Environment configuration, validated once at start-up by env-schema (ajv). Every problem is
 * collected so an operator fixes a deployment in one round, not one variable per crash loop.
 *
 * On top of env-schema: any variable `X` may instead be given as `X_FILE`, the path of a file
 * whose content (less one trailing newline) is the value, the way images take their secrets.
 * Setting both is an error naming both. A secret (`env.secretFile`) must come from a file: a
 * plain `X` holding a password is refused, and its value is never echoed in an error.
 */
export type EnvSource = Readonly<Record<string, string | undefined>>;

export interface EnvVar<T> {
  readonly description: string;
  /** Secret values come from a file named by `<NAME>_FILE` and are never echoed in errors. */
  readonly secret: boolean;
  /** Absent (and without a default) is an error. */
  readonly required: boolean;
  /** The JSON Schema env-schema checks the text against (ajv coerces it to the schema's type). */
  readonly schema: TSchema;
  /** What to say instead of ajv's reason, where the schema's own words would mislead. */
  readonly reason?: string;
  readonly minLength?: number;
  /** Never echo the value in an error (a file given by mistake might hold a key). */
  readonly quiet?: boolean;
  /**
   * The text forms accepted before ajv coerces the text (ajv reads "1e2" as the integer 100;
   * an operator who wrote that meant something else), and what a refusal says.
   */
  readonly text?: RegExp;
  readonly textReason?: string;
  /** Applied to the text before it is checked (e.g. case of a boolean word). */
  prepare?(raw: string): string;
  /** Another variable of the spec that must be set exactly when this one is (a certificate and its key). */
  pairedWith?: string;
  /** Turns the checked value into the one the service reads. */
  convert(value: unknown): T;
}

export type EnvSpec = Record<string, EnvVar<unknown>>;
export type EnvValues<S extends EnvSpec> = { [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid environment:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "EnvError";
  }
}

function shown(raw: unknown): string {
  if (typeof raw !== "string") return JSON.stringify(raw) ?? String(raw);
  return JSON.stringify(raw.length > 60 ? `${raw.slice(0, 57)}...` : raw);
}

interface Common<T> {
  description?: string;
  default?: T;
}

const same = <T>(value: unknown): T => value as T;

function variable<T>(options: Common<unknown>, kind: string, schema: TSchema, extra: Partial<EnvVar<T>> = {}): EnvVar<T> {
  return {
    description: options.description ?? kind,
    secret: false,
    required: options.default === undefined,
    schema: options.default === undefined ? schema : { ...schema, default: options.default },
    convert: same<T>,
    ...extra,
  };
}

export interface RangeOptions extends Common<number> {
  min?: number;
  max?: number;
}

const BOOLEAN_WORDS: Record<string, boolean> = { "1": true, true: true, yes: true, on: true, "0": false, false: false, no: false, off: false };

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/;

/** Builders for an EnvSpec; each names what it expects so the error can say it. */
export const env = {
  string(options: Common<string> & { pattern?: RegExp } = {}): EnvVar<string> {
    return variable(options, "a string", Type.String(options.pattern ? { pattern: options.pattern.source } : {}));
  },
  integer(options: RangeOptions = {}): EnvVar<number> {
    const limits = { ...(options.min !== undefined && { minimum: options.min }), ...(options.max !== undefined && { maximum: options.max }) };
    return variable(options, "an integer", Type.Integer(limits), { text: /^\s*-?\d+\s*$/, textReason: "must be an integer" });
  },
  /** A decimal number, written plainly (0.25, 1, .5): no exponent, which reads as a typo here. */
  number(options: RangeOptions = {}): EnvVar<number> {
    const limits = { ...(options.min !== undefined && { minimum: options.min }), ...(options.max !== undefined && { maximum: options.max }) };
    return variable(options, "a number", Type.Number(limits), { text: /^\s*-?(\d+(\.\d*)?|\.\d+)\s*$/, textReason: "must be a decimal number such as 0.25" });
  },
  port(options: Common<number> = {}): EnvVar<number> {
    return env.integer({ ...options, min: 0, max: 65535, description: options.description ?? "a TCP port" });
  },
  boolean(options: Common<boolean> = {}): EnvVar<boolean> {
    const text = { ...options, default: options.default === undefined ? undefined : String(options.default) };
    return variable(text, "true or false", Type.String({ enum: Object.keys(BOOLEAN_WORDS) }), {
      reason: "must be true or false",
      prepare: (raw) => raw.trim().toLowerCase(),
      convert: (value) => BOOLEAN_WORDS[String(value)],
    });
  },
  oneOf<const V extends string>(values: readonly V[], options: Common<V> = {}): EnvVar<V> {
    return variable(options, `one of ${values.join(", ")}`, Type.String({ enum: [...values] }));
  },
  url(options: Common<string> & { protocols?: string[] } = {}): EnvVar<string> {
    return variable(options, "a URL", Type.String({ url: { protocols: options.protocols ?? [] } }));
  },
  /** A comma-separated list; empty entries are dropped. */
  list(options: Common<string[]> = {}): EnvVar<string[]> {
    const text = { ...options, default: options.default?.join(",") };
    return variable(text, "a comma-separated list", Type.String(), {
      convert: (value) => String(value).split(",").map((s) => s.trim()).filter((s) => s !== ""),
    });
  },
  /**
   * A secret read from the file `<NAME>_FILE` points at (trailing newline trimmed). A plain
   * `<NAME>` variable is refused so a password never sits in the environment.
   */
  secretFile(options: { description?: string; minLength?: number } = {}): EnvVar<string> {
    return { ...variable<string>(options, "a secret file", Type.String()), secret: true, minLength: options.minLength };
  },
  /**
   * A CA certificate (PEM) a client verifies a server against, normally given as `<NAME>_FILE`
   * (the platform CA the stack delivers as a file). Public, so an inline value is accepted too.
   */
  caCertificate(options: { description?: string } = {}): EnvVar<string> {
    return env.certificate({ description: options.description ?? "a CA certificate (PEM)" });
  },
  /** A certificate (PEM), normally given as `<NAME>_FILE`; public, so an inline value is accepted too. */
  certificate(options: { description?: string } = {}): EnvVar<string> {
    return variable<string>({ description: options.description ?? "a certificate (PEM)" }, "a certificate (PEM)", Type.String({ pattern: PEM_CERTIFICATE.source }), {
      reason: "must hold a PEM certificate (-----BEGIN CERTIFICATE-----)",
      quiet: true,
    });
  },
  /** `inner`, which must be set exactly when `partner` is: half of a pair is a start-up error naming both. */
  pairedWith<T>(partner: string, inner: EnvVar<T>): EnvVar<T> {
    return { ...inner, pairedWith: partner };
  },
  optional<T>(inner: EnvVar<T>): EnvVar<T | undefined> {
    return { ...inner, required: false };
  },
};

/** ajv keyword `url`: parses with WHATWG URL, refuses a password in it and protocols not listed. */
function urlProblem(raw: string, protocols: readonly string[]): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    return `must be a URL (got ${shown(raw)})`;
  }
  if (parsed.password !== "") return "must not contain a password (put it in a *_FILE secret)";
  const protocol = parsed.protocol.replace(/:$/, "");
  if (protocols.length > 0 && !protocols.includes(protocol)) return `must use ${protocols.join(" or ")} (got ${protocol})`;
  return undefined;
}

function withUrlKeyword(ajv: Ajv): Ajv {
  const validate = (schema: { protocols: string[] }, data: string): boolean => {
    const problem = urlProblem(data, schema.protocols);
    validate.errors = problem ? [{ keyword: "url", message: problem, params: {} }] : [];
    return problem === undefined;
  };
  validate.errors = [] as Partial<ErrorObject>[];
  ajv.addKeyword({ keyword: "url", type: "string", schemaType: "object", errors: true, validate });
  return ajv;
}

/** The reason for one ajv error, phrased to follow the variable's name. */
function reasonOf(error: ErrorObject, variable: EnvVar<unknown>, text: string | undefined): string {
  const params = error.params as Record<string, unknown>;
  // A number out of range reads as the number; anything else as the text that was set.
  const got = `(got ${error.keyword === "minimum" || error.keyword === "maximum" ? String(Number(text)) : shown(text)})`;
  if (error.keyword === "required") return `is required (${variable.description})`;
  if (error.keyword === "url") return error.message ?? "must be a URL";
  if (variable.reason) return variable.quiet ? variable.reason : `${variable.reason} ${got}`;
  switch (error.keyword) {
    case "type":
      return `must be ${params.type === "integer" ? "an integer" : `a ${String(params.type)}`} ${got}`;
    case "minimum":
      return `must be at least ${String(params.limit)} ${got}`;
    case "maximum":
      return `must be at most ${String(params.limit)} ${got}`;
    case "enum":
      return `must be one of ${(params.allowedValues as unknown[]).join(", ")} ${got}`;
    case "pattern":
      return `must match /${String(params.pattern)}/ ${got}`;
    default:
      return `${error.message ?? "is invalid"} ${got}`;
  }
}

/** `X` from `X` or from the file `X_FILE` names; problems are keyed by the variable's name. */
function resolve(name: string, variable: EnvVar<unknown>, source: EnvSource): { value?: string; problem?: string } {
  const direct = source[name] === "" ? undefined : source[name];
  const path = source[`${name}_FILE`] === "" ? undefined : source[`${name}_FILE`];
  if (variable.secret && direct !== undefined) return { problem: `${name}_FILE: is required instead of ${name}, which must not hold a secret in the environment` };
  if (direct !== undefined && path !== undefined) return { problem: `${name}_FILE: cannot be used together with ${name}; set only one of ${name} and ${name}_FILE` };
  if (path === undefined) {
    if (variable.secret && variable.required) return { problem: `${name}_FILE: is required (path of ${variable.description === "a secret file" ? "the secret file" : variable.description})` };
    return { value: direct === undefined ? undefined : (variable.prepare?.(direct) ?? direct) };
  }
  let content: string;
  try {
    content = readFileSync(path, "utf8").replace(/\r?\n$/, "");
  } catch (error) {
    return { problem: `${name}_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "unreadable"})` };
  }
  if (variable.secret && content === "") return { problem: `${name}_FILE: ${path} is empty` };
  if (variable.minLength !== undefined && content.length < variable.minLength) {
    return { problem: `${name}_FILE: ${path} holds ${content.length} characters, needs at least ${variable.minLength}` };
  }
  if (content === "") return {};
  return { value: variable.prepare?.(content) ?? content };
}

/** Validates `source` against `spec`; throws one EnvError naming every bad variable. */
export function loadEnv<S extends EnvSpec>(spec: S, source: EnvSource = process.env): EnvValues<S> {
  const names = Object.keys(spec);
  const problems = new Map<string, string>();
  const data: Record<string, string> = {};
  for (const name of names) {
    const { value, problem } = resolve(name, spec[name], source);
    const variable = spec[name];
    if (problem !== undefined) problems.set(name, problem);
    else if (value !== undefined && variable.text && !variable.text.test(value)) problems.set(name, `${name}: ${variable.textReason ?? "is invalid"} (got ${shown(value)})`);
    else if (value !== undefined) data[name] = value;
  }
  // One half of a pair (a certificate without its key) is refused under the half that is missing.
  const given = (name: string) => data[name] !== undefined || problems.has(name);
  const asSet = (name: string) => (spec[name].secret || source[`${name}_FILE`] ? `${name}_FILE` : name);
  for (const name of names) {
    const partner = spec[name].pairedWith;
    if (partner === undefined || !(partner in spec) || problems.has(partner)) continue;
    if (given(name) && !given(partner)) problems.set(partner, `${partner}_FILE: is required when ${asSet(name)} is set; set both or neither`);
  }
  const checked = names.filter((name) => !problems.has(name));
  const schema = {
    type: "object",
    properties: Object.fromEntries(checked.map((name) => [name, spec[name].schema])),
    required: checked.filter((name) => spec[name].required && !spec[name].secret),
  };
  let values: Record<string, unknown> = {};
  try {
    values = envSchema({ schema, data, env: false, ajv: { customOptions: withUrlKeyword } });
  } catch (error) {
    const errors = (error as { errors?: ErrorObject[] }).errors;
    if (!errors) throw error;
    for (const failure of errors) {
      const name = failure.keyword === "required" ? String(failure.params.missingProperty) : failure.instancePath.slice(1);
      const variable = spec[name];
      if (variable && !problems.has(name)) problems.set(name, `${variable.secret ? `${name}_FILE` : name}: ${variable.secret ? "is not a valid secret" : reasonOf(failure, variable, data[name])}`);
    }
  }
  if (problems.size > 0) throw new EnvError(names.filter((name) => problems.has(name)).map((name) => problems.get(name) as string));
  return Object.fromEntries(names.map((name) => [name, values[name] === undefined ? undefined : spec[name].convert(values[name])])) as EnvValues<S>;
}
