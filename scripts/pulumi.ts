/**
 * `npm run preview -- <stack>` / `npm run up -- <stack>`: the real Pulumi CLI (from the `pulumi`
 * npm package, which fetches the CLI on first use) against a local file backend under the
 * repository, unless PULUMI_BACKEND_URL names another. No Pulumi Cloud account is needed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..");
const [command, stack, ...rest] = process.argv.slice(2);

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

if (command !== "preview" && command !== "up") fail("usage: tsx scripts/pulumi.ts <preview|up> <stack> [pulumi flags]");
if (!stack || !existsSync(join(ROOT, `Pulumi.${stack}.yaml`))) fail(`usage: npm run ${command} -- <stack>   (a Pulumi.<stack>.yaml must exist; got ${stack ?? "none"})`);

const env: NodeJS.ProcessEnv = { ...process.env };
if (!env.PULUMI_BACKEND_URL) {
  const state = join(ROOT, ".pulumi-state");
  mkdirSync(state, { recursive: true });
  env.PULUMI_BACKEND_URL = `file://${state}`;
  // A file backend encrypts secrets with a passphrase; refuse to invent one silently.
  if (env.PULUMI_CONFIG_PASSPHRASE === undefined && env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined) {
    fail("the local file backend encrypts secrets with a passphrase: set PULUMI_CONFIG_PASSPHRASE_FILE (or PULUMI_CONFIG_PASSPHRASE)");
  }
}

function pulumi(args: string[]): number {
  const result = spawnSync("npx", ["--no-install", "pulumi", ...args], { cwd: ROOT, env, stdio: "inherit" });
  return result.status ?? 1;
}

if (pulumi(["stack", "select", "--create", stack, "--non-interactive"]) !== 0) process.exit(1);
const policy = ["--policy-pack", join(ROOT, "policies")];
const args = command === "preview" ? ["preview", "--stack", stack, "--diff", ...policy, ...rest] : ["up", "--stack", stack, ...policy, ...rest];
process.exit(pulumi(args));
