import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { loadStackConfig } from "../../components/config";
import { projectConfigDeclarations, renderPulumiYaml } from "../../components/config/pulumi-project-config";
import { renderStackFileSchema, STACK_FILE_SCHEMA_PATH } from "../../components/config/stack-file-schema";
import { readStackConfig } from "../../scripts/mock-engine";

const ROOT = join(__dirname, "../..");
const REGENERATE = "regenerate: npx tsx scripts/config-reference.ts --write";
const STACKS = ["dev", "prod"];

/** What an editor does with the published file: a stock ajv, told only that the project's formats and the editor keyword exist. */
let compiled: ValidateFunction | undefined;
function editorValidator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, formats: { "image-reference": true, cron: true }, keywords: ["patternErrorMessage"] });
  compiled = ajv.compile(JSON.parse(readFileSync(join(ROOT, STACK_FILE_SCHEMA_PATH), "utf8")));
  return compiled;
}

function stackFile(stack: string): Record<string, unknown> & { config: Record<string, unknown> } {
  return parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
}

function errorsOf(document: unknown): ErrorObject[] {
  const validate = editorValidator();
  return validate(document) ? [] : (validate.errors ?? []);
}

describe("the published JSON Schema of Pulumi.<stack>.yaml", () => {
  it(`is the one the stack schema yields (${REGENERATE})`, () => {
    expect(readFileSync(join(ROOT, STACK_FILE_SCHEMA_PATH), "utf8")).toBe(renderStackFileSchema());
  });

  it.each(STACKS)("is named by Pulumi.%s.yaml's yaml-language-server line and accepts the file as it is", (stack) => {
    const text = readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
    expect(text.split("\n")[0]).toBe(`# yaml-language-server: $schema=./${STACK_FILE_SCHEMA_PATH}`);
    expect(errorsOf(stackFile(stack))).toEqual([]);
  });

  it("accepts what the Pulumi CLI writes: encrypted secrets and numbers stored as text", () => {
    const document = stackFile("prod");
    document.config["fundament:gpuJobs"] = { ...(document.config["fundament:gpuJobs"] as object), apiKeys: { runpod: { secure: "v1:AAAA" } } };
    document.config["fundament:monitoring"] = { cpu: "0.5", receivers: { slack: { webhookUrl: { secure: "v1:BBBB" } } } };
    expect(errorsOf(document)).toEqual([]);
  });

  it("rejects a broken stack file at the keys that are wrong", () => {
    const document = stackFile("dev");
    delete document.config["fundament:target"];
    document.config["fundament:tagret"] = "docker";
    document.config["fundament:postgres"] = { memoryMiB: 64, memroyMiB: 512, storageGiB: { secure: "v1:CCCC" } };
    document.config["fundament:redis"] = { evictionPolicy: "lru" };
    const errors = errorsOf(document);
    const at = (path: string, keyword: string, param?: string) =>
      errors.some((e) => e.instancePath === path && e.keyword === keyword && (param === undefined || Object.values(e.params).includes(param)));
    expect(at("/config", "required", "fundament:target")).toBe(true);
    expect(at("/config", "additionalProperties", "fundament:tagret")).toBe(true);
    expect(at("/config/fundament:postgres/memoryMiB", "minimum")).toBe(true);
    expect(at("/config/fundament:postgres", "additionalProperties", "memroyMiB")).toBe(true);
    // Only credentials may be stored encrypted: a secret size is a mistake the editor shows.
    expect(at("/config/fundament:postgres/storageGiB", "type")).toBe(true);
    expect(at("/config/fundament:redis/evictionPolicy", "enum")).toBe(true);
  });

  it("leaves other namespaces' keys (providers, pulumi:) alone", () => {
    const document = stackFile("prod");
    document.config["aws:profile"] = "platform";
    document.config["kubernetes:context"] = "kind-dev";
    expect(errorsOf(document)).toEqual([]);
  });
});

describe("Pulumi.yaml's typed config declarations", () => {
  const project = readFileSync(join(ROOT, "Pulumi.yaml"), "utf8");
  const declared = (parse(project) as { config: Record<string, Record<string, unknown>> }).config;

  it(`are the ones the stack schema yields, and the rest of the file is kept (${REGENERATE})`, () => {
    expect(renderPulumiYaml(project)).toBe(project);
    expect(declared["pulumi:tags"]).toEqual({ value: { project: "fundament" } });
    expect(Object.fromEntries(Object.entries(declared).filter(([key]) => key.startsWith("fundament:")))).toEqual(JSON.parse(JSON.stringify(projectConfigDeclarations())));
  });

  it("require what the program requires and type what Pulumi can type", () => {
    expect(declared["fundament:target"]).toEqual({ type: "string", description: "where the stack runs" });
    expect(declared["fundament:postgres"]).toMatchObject({ type: "object", default: {} });
    expect(declared["fundament:imageRegistry"]).toMatchObject({ type: "string", default: "local" });
    // Declared without a default the CLI would demand it of every stack; its default is the stack name.
    expect(declared["fundament:environment"]).toBeUndefined();
  });

  it.each(STACKS)("hold for Pulumi.%s.yaml as the CLI checks them, and their defaults change nothing the program reads", (stack) => {
    const config = stackFile(stack).config;
    for (const [key, declaration] of Object.entries(declared)) {
      if (!key.startsWith("fundament:") || !(key in config)) continue;
      const value = config[key];
      const kind = declaration.type === "object" ? "object" : declaration.type === "array" ? "array" : declaration.type;
      const actual = Array.isArray(value) ? "array" : typeof value === "object" && value !== null ? "object" : typeof value;
      expect(`${key}: ${actual}`).toBe(`${key}: ${kind === "integer" ? "number" : kind}`);
    }
    // The CLI hands the program each declared default the stack does not set.
    const withDefaults = readStackConfig(stack);
    for (const [key, declaration] of Object.entries(declared)) {
      if (key.startsWith("fundament:") && !(key in withDefaults) && declaration.default !== undefined) {
        withDefaults[key] = typeof declaration.default === "string" ? declaration.default : JSON.stringify(declaration.default);
      }
    }
    expect(loadStackConfig(stack, withDefaults)).toEqual(loadStackConfig(stack, readStackConfig(stack)));
  });
});
