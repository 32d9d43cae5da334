import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configReference, renderConfigReference } from "../../components/config/config-reference";

describe("README configuration reference", () => {
  const readme = readFileSync(join(__dirname, "../../README.md"), "utf8");
  const section = readme.slice(readme.indexOf("<!-- config-reference:start -->"), readme.indexOf("<!-- config-reference:end -->"));

  it("is the table the schema renders (regenerate: npx tsx scripts/config-reference.ts --write)", () => {
    expect(section.trim()).toBe(`<!-- config-reference:start -->\n${renderConfigReference()}`);
  });

  it("documents every key with a type and a meaning", () => {
    for (const row of configReference()) {
      expect(section).toContain(`\`${row.key}\``);
      expect(row.meaning.length).toBeGreaterThan(3);
      expect(row.type.length).toBeGreaterThan(2);
    }
  });
});
