/**
 * `npx tsx scripts/chart-value-keys.ts <chart dir> <source url>`: records the values keys of one
 * chart version for tests/unit/chart-values.test.ts, from an unpacked chart (`helm pull --untar`,
 * or the chart's folder in its repository at the release tag). Writes
 * tests/fixtures/chart-values/<name>-<version>.json: the key paths of values.yaml, the `.Values`
 * paths its templates read (some charts read keys they do not default), and the maps whose keys
 * are the user's (empty by default, or ranged over / rendered whole with toYaml by a template).
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const [dir, source] = process.argv.slice(2);
if (!dir || !source) {
  console.error("usage: npx tsx scripts/chart-value-keys.ts <chart dir> <source url>");
  process.exit(2);
}

const meta = parse(readFileSync(join(dir, "Chart.yaml"), "utf8")) as { name: string; version: string };
const values = (parse(readFileSync(join(dir, "values.yaml"), "utf8")) ?? {}) as Record<string, unknown>;
const keys = new Set<string>();
const openMaps = new Set<string>();

function walk(node: Record<string, unknown>, prefix: string): void {
  for (const [key, value] of Object.entries(node)) {
    const path = prefix ? `${prefix}.${key}` : key;
    keys.add(path);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      if (Object.keys(value).length === 0) openMaps.add(path);
      walk(value as Record<string, unknown>, path);
    }
  }
}
walk(values, "");

function templates(folder: string): string[] {
  return readdirSync(folder).flatMap((entry) => {
    const path = join(folder, entry);
    return statSync(path).isDirectory() ? templates(path) : /\.(ya?ml|tpl|txt)$/.test(entry) ? [path] : [];
  });
}

const PATH = String.raw`\.Values((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)`;
for (const file of templates(join(dir, "templates"))) {
  const text = readFileSync(file, "utf8");
  for (const match of text.matchAll(new RegExp(PATH, "g"))) {
    const parts = match[1].slice(1).split(".");
    parts.forEach((_, i) => keys.add(parts.slice(0, i + 1).join(".")));
  }
  for (const match of text.matchAll(new RegExp(String.raw`range\s+\$\w*\s*,\s*\$\w*\s*:=\s*` + PATH, "g"))) openMaps.add(match[1].slice(1));
  for (const match of text.matchAll(new RegExp(String.raw`toYaml\s+` + PATH, "g"))) openMaps.add(match[1].slice(1));
}

const out = join(__dirname, "../tests/fixtures/chart-values", `${meta.name}-${meta.version}.json`);
const fixture = {
  chart: meta.name,
  version: String(meta.version),
  source,
  derivedFrom: "key paths of values.yaml, plus the .Values paths its templates read; openMaps: maps whose keys are free (empty default, or ranged over / rendered with toYaml by a template)",
  keys: [...keys].sort(),
  openMaps: [...openMaps].sort(),
};
writeFileSync(out, `${JSON.stringify(fixture, null, 1)}\n`);
console.log(`wrote ${out}: ${fixture.keys.length} keys, ${fixture.openMaps.length} open maps`);
