import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type JsonObject } from "../../src/json-patch";
import { effectiveDocument, mergeOverlay } from "../../src/overlay";

const object = fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 3 })) as fc.Arbitrary<JsonObject>;

describe("environment overlay (RFC 7396 merge)", () => {
  it("merges objects key by key, replaces arrays and scalars, and removes keys set to null", () => {
    const base = { db: { host: "db", port: 5432, pool: 10 }, features: ["a", "b"], proxy: "http://proxy", level: "info" };
    const prod = { db: { host: "db-prod", pool: null }, features: ["c"], proxy: null };
    expect(mergeOverlay(base, prod)).toEqual({ db: { host: "db-prod", port: 5432 }, features: ["c"], level: "info" });
  });

  it("gives the base to the base environment and to an environment without an entry", () => {
    const base = { a: 1 };
    expect(effectiveDocument("base", base, { a: 2 })).toEqual({ a: 1 });
    expect(effectiveDocument("prod", base, undefined)).toEqual({ a: 1 });
    expect(effectiveDocument("prod", undefined, undefined)).toBeUndefined();
    expect(effectiveDocument("prod", undefined, { a: 2, b: null })).toEqual({ a: 2 });
  });

  it("lets every overlay key win and leaves the base untouched", () => {
    fc.assert(
      fc.property(object, object, (base, overlay) => {
        const copy = structuredClone(base);
        const merged = mergeOverlay(base, overlay) as JsonObject;
        expect(base).toEqual(copy);
        for (const [key, value] of Object.entries(overlay)) {
          if (value === null) expect(Object.hasOwn(merged, key)).toBe(false);
          else if (typeof value !== "object" || Array.isArray(value)) expect(merged[key]).toEqual(value);
        }
        for (const key of Object.keys(base)) if (!Object.hasOwn(overlay, key)) expect(merged[key]).toEqual(base[key]);
      }),
    );
  });

  it("is idempotent: applying an overlay twice equals applying it once", () => {
    fc.assert(
      fc.property(object, object, (base, overlay) => {
        expect(mergeOverlay(mergeOverlay(base, overlay), overlay)).toEqual(mergeOverlay(base, overlay));
      }),
    );
  });
});
