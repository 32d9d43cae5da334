import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { env, EnvError, loadEnv, type EnvSpec } from "../src/env";

const spec = {
  PORT: env.port({ default: 8080 }),
  LOG_LEVEL: env.oneOf(["debug", "info", "warn"] as const, { default: "info" }),
  DATABASE_URL: env.url({ protocols: ["postgres"] }),
  DATABASE_PASSWORD: env.secretFile(),
  CONSUL_URL: env.optional(env.url()),
  DEBUG_SQL: env.boolean({ default: false }),
};

function problemsOf(source: Record<string, string>, of: EnvSpec = spec): string[] {
  try {
    loadEnv(of, source);
  } catch (error) {
    if (error instanceof EnvError) return error.problems;
    throw error;
  }
  return [];
}

function secretFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "kit-env-")), "secret");
  writeFileSync(path, content);
  return path;
}

describe("loadEnv", () => {
  it("reads typed values, defaults and the secret from its file", () => {
    const values = loadEnv(spec, { DATABASE_URL: "postgres://users@db:5432/users", DATABASE_PASSWORD_FILE: secretFile("s3cret-value\n") });
    expect(values).toEqual({
      PORT: 8080,
      LOG_LEVEL: "info",
      DATABASE_URL: "postgres://users@db:5432/users",
      DATABASE_PASSWORD: "s3cret-value",
      CONSUL_URL: undefined,
      DEBUG_SQL: false,
    });
  });

  it("names every bad variable with the reason and the value seen, in one error", () => {
    const problems = problemsOf({ PORT: "80a", LOG_LEVEL: "loud", DATABASE_URL: "mysql://db/users", DEBUG_SQL: "perhaps" });
    expect(problems).toEqual([
      'PORT: must be an integer (got "80a")',
      'LOG_LEVEL: must be one of debug, info, warn (got "loud")',
      "DATABASE_URL: must use postgres (got mysql)",
      "DATABASE_PASSWORD_FILE: is required (path of the secret file)",
      'DEBUG_SQL: must be true or false (got "perhaps")',
    ]);
  });

  it("rejects out-of-range ports and missing required values", () => {
    expect(problemsOf({ PORT: "1e3", DATABASE_URL: "postgres://u@db/x", DATABASE_PASSWORD_FILE: secretFile("x") })).toEqual(['PORT: must be an integer (got "1e3")']);
    expect(problemsOf({ PORT: "70000", DATABASE_PASSWORD_FILE: secretFile("x") })).toEqual([
      "PORT: must be at most 65535 (got 70000)",
      "DATABASE_URL: is required (a URL)",
    ]);
  });

  it("reads a decimal number within its range and refuses exponents, words and values beyond it", () => {
    const ratio = { RATIO: env.number({ min: 0, max: 1, default: 1 }) };
    const problems = (source: Record<string, string>) => problemsOf(source, ratio);
    expect(loadEnv(ratio, {})).toEqual({ RATIO: 1 });
    expect(loadEnv(ratio, { RATIO: "0.25" })).toEqual({ RATIO: 0.25 });
    expect(loadEnv(ratio, { RATIO: " .5 " })).toEqual({ RATIO: 0.5 });
    expect(loadEnv(ratio, { RATIO: "0" })).toEqual({ RATIO: 0 });
    expect(problems({ RATIO: "1e-1" })).toEqual(['RATIO: must be a decimal number such as 0.25 (got "1e-1")']);
    expect(problems({ RATIO: "half" })).toEqual(['RATIO: must be a decimal number such as 0.25 (got "half")']);
    expect(problems({ RATIO: "1.5" })).toEqual(["RATIO: must be at most 1 (got 1.5)"]);
    expect(problems({ RATIO: "-0.1" })).toEqual(["RATIO: must be at least 0 (got -0.1)"]);
  });

  it("refuses a password inside a URL or a secret set directly, without echoing either", () => {
    const problems = problemsOf({ DATABASE_URL: "postgres://u:hunter2@db/x", DATABASE_PASSWORD: "hunter2" });
    expect(problems).toEqual([
      "DATABASE_URL: must not contain a password (put it in a *_FILE secret)",
      "DATABASE_PASSWORD_FILE: is required instead of DATABASE_PASSWORD, which must not hold a secret in the environment",
    ]);
    expect(problems.join("\n")).not.toContain("hunter2");
  });

  it("says which secret file cannot be read or is empty", () => {
    expect(problemsOf({ DATABASE_URL: "postgres://u@db/x", DATABASE_PASSWORD_FILE: "/nonexistent/pw" })).toEqual([
      "DATABASE_PASSWORD_FILE: cannot read /nonexistent/pw (ENOENT)",
    ]);
    const empty = secretFile("");
    expect(problemsOf({ DATABASE_URL: "postgres://u@db/x", DATABASE_PASSWORD_FILE: empty })).toEqual([`DATABASE_PASSWORD_FILE: ${empty} is empty`]);
  });

  it("validates an optional variable only when it is set", () => {
    const base = { DATABASE_URL: "postgres://u@db/x", DATABASE_PASSWORD_FILE: secretFile("pw") };
    expect(loadEnv(spec, { ...base, CONSUL_URL: "http://consul:8500" }).CONSUL_URL).toBe("http://consul:8500");
    expect(problemsOf({ ...base, CONSUL_URL: "not a url" })).toEqual(['CONSUL_URL: must be a URL (got "not a url")']);
  });

  it("takes any variable from the file its _FILE variable names, the way images take their settings", () => {
    const values = loadEnv(spec, {
      PORT_FILE: secretFile("9090\n"),
      DATABASE_URL_FILE: secretFile("postgres://users@db:5432/users\n"),
      DATABASE_PASSWORD_FILE: secretFile("pw"),
      DEBUG_SQL: "Yes",
    });
    expect(values).toMatchObject({ PORT: 9090, DATABASE_URL: "postgres://users@db:5432/users", DEBUG_SQL: true });
    // The file's content is checked like the variable's would be, and named by the variable.
    expect(problemsOf({ PORT_FILE: secretFile("ninety\n"), DATABASE_URL: "postgres://u@db/x", DATABASE_PASSWORD_FILE: secretFile("pw") })).toEqual([
      'PORT: must be an integer (got "ninety")',
    ]);
  });

  it("refuses a variable set both directly and as a file, naming both, and names an unreadable file's path", () => {
    expect(problemsOf({ PORT: "8080", PORT_FILE: secretFile("8081"), DATABASE_URL: "postgres://u@db/x", DATABASE_URL_FILE: "/nonexistent/url", DATABASE_PASSWORD_FILE: secretFile("pw") })).toEqual([
      "PORT_FILE: cannot be used together with PORT; set only one of PORT and PORT_FILE",
      "DATABASE_URL_FILE: cannot be used together with DATABASE_URL; set only one of DATABASE_URL and DATABASE_URL_FILE",
    ]);
    expect(problemsOf({ DATABASE_URL_FILE: "/nonexistent/url", DATABASE_PASSWORD_FILE: secretFile("pw") })).toEqual(["DATABASE_URL_FILE: cannot read /nonexistent/url (ENOENT)"]);
  });

  it("reads lists and boolean words, and keeps defaults of every kind", () => {
    const listSpec = { HOSTS: env.list({ default: ["a"] }), TAGS: env.list(), VERBOSE: env.boolean({ default: true }) };
    expect(loadEnv(listSpec, { TAGS: " x, ,y ", VERBOSE: "off" })).toEqual({ HOSTS: ["a"], TAGS: ["x", "y"], VERBOSE: false });
    expect(loadEnv(listSpec, { TAGS: ",", HOSTS_FILE: secretFile("b,c\n") })).toEqual({ HOSTS: ["b", "c"], TAGS: [], VERBOSE: true });
  });

  it("reads a CA certificate from its file and refuses a file that holds no PEM certificate", () => {
    const caSpec = { DATABASE_CA: env.caCertificate({ description: "the CA PostgreSQL's certificate is verified against" }) };
    const pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
    expect(loadEnv(caSpec, { DATABASE_CA_FILE: secretFile(pem) })).toEqual({ DATABASE_CA: pem.trimEnd() });
    expect(() => loadEnv(caSpec, {})).toThrow("DATABASE_CA: is required (the CA PostgreSQL's certificate is verified against)");
    const key = secretFile("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----\n");
    const problems = (() => {
      try {
        loadEnv(caSpec, { DATABASE_CA_FILE: key });
      } catch (error) {
        return (error as EnvError).problems;
      }
      return [];
    })();
    // A key given by mistake is not echoed into the logs.
    expect(problems).toEqual(["DATABASE_CA: must hold a PEM certificate (-----BEGIN CERTIFICATE-----)"]);
  });
});
