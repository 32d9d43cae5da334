// Writes what is generated from the stack schema (components/config/stack-schema.ts): the README's
// configuration table, the editor schema of Pulumi.<stack>.yaml and Pulumi.yaml's typed config
// declarations. Without `--write` it prints the table. Tests fail when any of them is stale.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { renderConfigReference } from "../components/config/config-reference";
import { renderPulumiYaml } from "../components/config/pulumi-project-config";
import { renderStackFileSchema, STACK_FILE_SCHEMA_PATH } from "../components/config/stack-file-schema";

export const START = "<!-- config-reference:start -->";
export const END = "<!-- config-reference:end -->";

const ROOT = join(__dirname, "..");
const table = renderConfigReference();
if (process.argv.includes("--write")) {
  const path = join(ROOT, "README.md");
  const readme = readFileSync(path, "utf8");
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} ... ${END} markers`);
  writeFileSync(path, `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`);
  const schemaPath = join(ROOT, STACK_FILE_SCHEMA_PATH);
  mkdirSync(dirname(schemaPath), { recursive: true });
  writeFileSync(schemaPath, renderStackFileSchema());
  const projectPath = join(ROOT, "Pulumi.yaml");
  writeFileSync(projectPath, renderPulumiYaml(readFileSync(projectPath, "utf8")));
} else {
  console.log(table);
}
