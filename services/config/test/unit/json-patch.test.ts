import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyPatch, diffJson, type JsonValue } from "../../src/json-patch";

const json = fc.jsonValue() as fc.Arbitrary<JsonValue>;

describe("diffJson (RFC 6902)", () => {
  it("names exactly what changed, with escaped pointers", () => {
    const before = { db: { host: "a", port: 5432 }, "a/b": 1, "t~x": [1, 2, 3], gone: true };
    const after = { db: { host: "b", port: 5432, tls: true }, "a/b": 2, "t~x": [1, 9] };
    expect(diffJson(before, after)).toEqual([
      { op: "remove", path: "/gone" },
      { op: "replace", path: "/db/host", value: "b" },
      { op: "add", path: "/db/tls", value: true },
      { op: "replace", path: "/a~1b", value: 2 },
      { op: "replace", path: "/t~0x/1", value: 9 },
      { op: "remove", path: "/t~0x/2" },
    ]);
  });

  it("is empty between equal documents", () => {
    fc.assert(fc.property(json, (doc) => diffJson(doc, structuredClone(doc)).length === 0));
  });

  it("turns any document into any other when applied", () => {
    fc.assert(
      fc.property(json, json, (before, after) => {
        expect(applyPatch(before, diffJson(before, after))).toEqual(after);
      }),
      { numRuns: 500 },
    );
  });

  it("keeps a __proto__ key as data", () => {
    const after = JSON.parse('{"__proto__": {"polluted": true}}') as JsonValue;
    const patched = applyPatch({}, diffJson({}, after)) as Record<string, unknown>;
    expect(Object.keys(patched)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses a patch whose path does not exist, naming it", () => {
    expect(() => applyPatch({ a: 1 }, [{ op: "replace", path: "/b/c", value: 1 }])).toThrow("/b/c: path does not exist");
    expect(() => applyPatch({ a: [1] }, [{ op: "remove", path: "/a/5" }])).toThrow("/a/5: index 5 is out of bounds");
  });
});
