import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readGolden } from "../fixtures/golden-file";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const goldenPath = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "golden-"));
  dirs.push(dir);
  return join(dir, "golden.json");
};

describe("readGolden", () => {
  it("fails when the golden file is missing, and writes nothing", () => {
    const path = goldenPath();
    expect(() => readGolden(path, { a: 1 }, {})).toThrow(/golden file .*golden\.json is missing: review the output, then write it with UPDATE_GOLDEN=1/);
    expect(existsSync(path)).toBe(false);
  });

  it("returns the file's value, not the actual one, so a difference fails the comparison", () => {
    const path = goldenPath();
    writeFileSync(path, JSON.stringify({ a: 1 }));
    expect(readGolden(path, { a: 2 }, {})).toEqual({ a: 1 });
    expect(readFileSync(path, "utf8")).toBe(JSON.stringify({ a: 1 }));
  });

  it("rewrites the file from the actual value only with UPDATE_GOLDEN=1", () => {
    const path = goldenPath();
    expect(readGolden(path, { a: 2 }, { UPDATE_GOLDEN: "1" })).toEqual({ a: 2 });
    expect(readFileSync(path, "utf8")).toBe(`${JSON.stringify({ a: 2 }, null, 2)}\n`);
  });
});
