import { describe, expect, it } from "vitest";
import { NamespaceSchema } from "../../src/schema-validation";

const schema = NamespaceSchema.compile({
  type: "object",
  required: ["db"],
  additionalProperties: false,
  properties: {
    db: {
      type: "object",
      required: ["host"],
      properties: { host: { type: "string", format: "hostname" }, port: { type: "integer", maximum: 65535 } },
    },
    "a/b": { type: "boolean" },
    replicas: { type: "array", items: { type: "integer", minimum: 1 } },
  },
});

describe("namespace schema checks", () => {
  it("accepts a conforming document", () => {
    expect(schema.check({ db: { host: "db.internal", port: 5432 }, replicas: [1, 2] })).toEqual({ valid: true });
  });

  it.each([
    [{ db: { host: "db", port: 70000 } }, "/db/port", "must be <= 65535"],
    [{ db: {} }, "/db/host", "must have required property 'host'"],
    [{}, "/db", "must have required property 'db'"],
    [{ db: { host: "db" }, extra: 1 }, "/extra", "must NOT have additional properties"],
    [{ db: { host: "db" }, "a/b": "yes" }, "/a~1b", "must be boolean"],
    [{ db: { host: "db" }, replicas: [1, 0] }, "/replicas/1", "must be >= 1"],
    [{ db: { host: "not a host!" } }, "/db/host", 'must match format "hostname"'],
  ])("names the failing path of %j", (document, path, message) => {
    const result = schema.check(document);
    expect(result.valid).toBe(false);
    if (!result.valid) expect(result.violations).toContainEqual({ path, message });
  });

  it("refuses something that is not a schema, saying why", () => {
    expect(() => NamespaceSchema.compile({ type: "no-such-type" })).toThrow(/type/);
    expect(() => NamespaceSchema.compile([] as never)).toThrow("must be a JSON Schema object");
  });
});
