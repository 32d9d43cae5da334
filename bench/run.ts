// `npm run bench -- <name>` runs bench/<name>.ts; each benchmark prints `<name>: ratio X.XX` last.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const available = readdirSync(__dirname)
  .filter((file) => file.endsWith(".ts") && file !== "run.ts")
  .map((file) => file.replace(/\.ts$/, ""));
const name = process.argv[2];
if (!name || !existsSync(join(__dirname, `${name}.ts`))) {
  console.error(`usage: npm run bench -- <name>   (one of: ${available.join(", ") || "none yet"})`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ["--import", "tsx", join(__dirname, `${name}.ts`), ...process.argv.slice(3)], {
  stdio: "inherit",
});
process.exit(result.status ?? 1);
