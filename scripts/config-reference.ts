// Prints the configuration reference table; `--write` replaces it in README.md between its markers.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigReference } from "../components/config/config-reference";

export const START = "<!-- config-reference:start -->";
export const END = "<!-- config-reference:end -->";

const table = renderConfigReference();
if (process.argv.includes("--write")) {
  const path = join(__dirname, "..", "README.md");
  const readme = readFileSync(path, "utf8");
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the ${START} ... ${END} markers`);
  writeFileSync(path, `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`);
} else {
  console.log(table);
}
