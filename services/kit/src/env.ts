import { readFileSync } from "node:fs";

/**
 * Environment configuration, validated once at start-up. Every problem is collected so an
 * operator fixes a deployment in one round, not one variable per crash loop.
 */
export type EnvSource = Readonly<Record<string, string | undefined>>;

export interface EnvVar<T> {
  readonly description: string;
  /** Secret values come from a file named by `<NAME>_FILE` and are never echoed in errors. */
  readonly secret: boolean;
  /** Returns the value or a reason (phrased to follow the variable's name). */
  read(name: string, source: EnvSource): { ok: true; value: T } | { ok: false; reason: string };
}

export type EnvSpec = Record<string, EnvVar<unknown>>;
export type EnvValues<S extends EnvSpec> = { [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid environment:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "EnvError";
  }
}

type Result<T> = { ok: true; value: T } | { ok: false; reason: string };
const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = <T>(reason: string): Result<T> => ({ ok: false, reason });

function shown(raw: string): string {
  return JSON.stringify(raw.length > 60 ? `${raw.slice(0, 57)}...` : raw);
}

interface Common<T> {
  description?: string;
  default?: T;
}

function plain<T>(options: Common<T>, parse: (raw: string) => Result<T>, kind: string): EnvVar<T> {
  return {
    description: options.description ?? kind,
    secret: false,
    read(name, source) {
      const raw = source[name];
      if (raw === undefined || raw === "") {
        if (options.default !== undefined) return ok(options.default);
        return fail(`is required (${options.description ?? kind})`);
      }
      return parse(raw);
    },
  };
}

function optionalOf<T>(inner: EnvVar<T>): EnvVar<T | undefined> {
  return {
    description: inner.description,
    secret: inner.secret,
    read(name, source) {
      const raw = inner.secret ? source[`${name}_FILE`] : source[name];
      if (raw === undefined || raw === "") return ok(undefined);
      return inner.read(name, source);
    },
  };
}

export interface IntegerOptions extends Common<number> {
  min?: number;
  max?: number;
}

/** Builders for an EnvSpec; each names what it expects so the error can say it. */
export const env = {
  string(options: Common<string> & { pattern?: RegExp } = {}): EnvVar<string> {
    return plain(options, (raw) => (options.pattern && !options.pattern.test(raw) ? fail(`must match ${options.pattern} (got ${shown(raw)})`) : ok(raw)), "a string");
  },
  integer(options: IntegerOptions = {}): EnvVar<number> {
    return plain(
      options,
      (raw) => {
        if (!/^-?\d+$/.test(raw.trim())) return fail(`must be an integer (got ${shown(raw)})`);
        const value = Number(raw);
        if (options.min !== undefined && value < options.min) return fail(`must be at least ${options.min} (got ${value})`);
        if (options.max !== undefined && value > options.max) return fail(`must be at most ${options.max} (got ${value})`);
        return ok(value);
      },
      "an integer",
    );
  },
  port(options: Common<number> = {}): EnvVar<number> {
    return env.integer({ ...options, min: 0, max: 65535, description: options.description ?? "a TCP port" });
  },
  boolean(options: Common<boolean> = {}): EnvVar<boolean> {
    return plain(
      options,
      (raw) => {
        const lowered = raw.trim().toLowerCase();
        if (["1", "true", "yes", "on"].includes(lowered)) return ok(true);
        if (["0", "false", "no", "off"].includes(lowered)) return ok(false);
        return fail(`must be true or false (got ${shown(raw)})`);
      },
      "true or false",
    );
  },
  oneOf<const V extends string>(values: readonly V[], options: Common<V> = {}): EnvVar<V> {
    return plain(
      options,
      (raw) => ((values as readonly string[]).includes(raw) ? ok(raw as V) : fail(`must be one of ${values.join(", ")} (got ${shown(raw)})`)),
      `one of ${values.join(", ")}`,
    );
  },
  url(options: Common<string> & { protocols?: string[] } = {}): EnvVar<string> {
    return plain(
      options,
      (raw) => {
        let parsed: URL;
        try {
          parsed = new URL(raw);
        } catch {
          return fail(`must be a URL (got ${shown(raw)})`);
        }
        if (parsed.password !== "") return fail("must not contain a password (put it in a *_FILE secret)");
        const protocol = parsed.protocol.replace(/:$/, "");
        if (options.protocols && !options.protocols.includes(protocol)) {
          return fail(`must use ${options.protocols.join(" or ")} (got ${protocol})`);
        }
        return ok(raw);
      },
      "a URL",
    );
  },
  /** A comma-separated list; empty entries are dropped. */
  list(options: Common<string[]> = {}): EnvVar<string[]> {
    return plain(options, (raw) => ok(raw.split(",").map((s) => s.trim()).filter((s) => s !== "")), "a comma-separated list");
  },
  /**
   * A secret read from the file `<NAME>_FILE` points at (trailing newline trimmed). A plain
   * `<NAME>` variable is refused so a password never sits in the environment.
   */
  secretFile(options: { description?: string; minLength?: number } = {}): EnvVar<string> {
    return {
      description: options.description ?? "a secret file",
      secret: true,
      read(name, source) {
        if (source[name] !== undefined && source[name] !== "") {
          return fail(`is required instead of ${name}, which must not hold a secret in the environment`);
        }
        const path = source[`${name}_FILE`];
        if (path === undefined || path === "") return fail(`is required (path of ${options.description ?? "the secret file"})`);
        let content: string;
        try {
          content = readFileSync(path, "utf8").replace(/\r?\n$/, "");
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
          return fail(`cannot read ${path} (${code})`);
        }
        if (content === "") return fail(`${path} is empty`);
        if (options.minLength !== undefined && content.length < options.minLength) {
          return fail(`${path} holds ${content.length} characters, needs at least ${options.minLength}`);
        }
        return ok(content);
      },
    };
  },
  optional: optionalOf,
};

/** Validates `source` against `spec`; throws one EnvError naming every bad variable. */
export function loadEnv<S extends EnvSpec>(spec: S, source: EnvSource = process.env): EnvValues<S> {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(spec)) {
    const result = variable.read(name, source);
    if (result.ok) values[name] = result.value;
    else problems.push(`${variable.secret ? `${name}_FILE` : name}: ${result.reason}`);
  }
  if (problems.length > 0) throw new EnvError(problems);
  return values as EnvValues<S>;
}
