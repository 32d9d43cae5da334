/**
 * `npm run preview -- <stack>` / `npm run up -- <stack>`: the real Pulumi CLI (from the `pulumi`
 * npm package, which fetches the CLI on first use) with the security policy pack and the stack's
 * policy configuration. No Pulumi Cloud account is needed, and nothing has to be set first:
 *
 * - Backend: PULUMI_BACKEND_URL when set (s3://..., https://api.pulumi.com, file://...);
 *   otherwise a file backend in `.pulumi-state/` under the repository.
 * - Secrets: a stack whose secrets provider is a passphrase (the default) on a file backend gets
 *   one from `.pulumi-passphrase` (created on first use, mode 0600, git-ignored) unless
 *   PULUMI_CONFIG_PASSPHRASE(_FILE) is set. `--secrets-provider <url>` (e.g. awskms://...) is
 *   given to `pulumi stack select --create`, so it applies when the stack is created.
 * - After a successful `up`, prints where each UI and endpoint is (`pulumi stack output --json`,
 *   which shows secrets as "[secret]").
 */
import { spawnSync, SpawnSyncOptions } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, relative } from "node:path";
import { endpointLines } from "./stack-endpoints";

const ROOT = join(__dirname, "..");
const PULUMI_CLI = join(ROOT, "node_modules", ".bin", "pulumi");
const LOCAL_STATE = join(ROOT, ".pulumi-state");
const PASSPHRASE_FILE = join(ROOT, ".pulumi-passphrase");
const PROJECT = "fundament";

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/** Takes `--secrets-provider <url>` / `--secrets-provider=<url>` out of the flags meant for up/preview. */
function takeSecretsProvider(flags: string[]): { provider?: string; rest: string[] } {
  const rest: string[] = [];
  let provider: string | undefined;
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    if (flag === "--secrets-provider") {
      provider = flags[++i];
      if (!provider) fail("--secrets-provider: needs a value (passphrase, awskms://..., ...)");
    } else if (flag.startsWith("--secrets-provider=")) {
      provider = flag.slice("--secrets-provider=".length);
    } else {
      rest.push(flag);
    }
  }
  return { provider, rest };
}

/** The secrets provider a stack file records (`secretsprovider:`); absent means passphrase. */
function recordedSecretsProvider(stackFile: string): string | undefined {
  const match = /^secretsprovider:\s*(\S+)\s*$/m.exec(readFileSync(stackFile, "utf8"));
  return match?.[1]?.replace(/^["']|["']$/g, "");
}

function localStackExists(stack: string): boolean {
  return [join(LOCAL_STATE, ".pulumi", "stacks", PROJECT, `${stack}.json`), join(LOCAL_STATE, ".pulumi", "stacks", `${stack}.json`)].some(existsSync);
}

/** The local backend's passphrase file: created on first use, refused when others can read it. */
function localPassphraseFile(stack: string): string {
  const shown = relative(process.cwd(), PASSPHRASE_FILE) || PASSPHRASE_FILE;
  if (!existsSync(PASSPHRASE_FILE)) {
    if (localStackExists(stack)) {
      fail(`${PASSPHRASE_FILE} is missing, but .pulumi-state already holds stack ${stack}, encrypted with it: restore the file, or set PULUMI_CONFIG_PASSPHRASE_FILE to the passphrase the stack was created with`);
    }
    writeFileSync(PASSPHRASE_FILE, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
    console.log(`created ${shown} (mode 0600, git-ignored): the passphrase that encrypts this checkout's stack secrets in .pulumi-state. Keep it with the state; without it the secrets cannot be read.`);
  } else {
    const mode = statSync(PASSPHRASE_FILE).mode & 0o777;
    if ((mode & 0o077) !== 0) fail(`${PASSPHRASE_FILE}: readable by others (mode ${mode.toString(8)}); run: chmod 600 ${PASSPHRASE_FILE}`);
    console.log(`using the passphrase in ${shown}`);
  }
  return PASSPHRASE_FILE;
}

function run(args: string[], env: NodeJS.ProcessEnv, stdio: SpawnSyncOptions["stdio"] = "inherit"): { status: number; stdout: string } {
  const result = spawnSync(PULUMI_CLI, args, { cwd: ROOT, env, stdio, encoding: "utf8" });
  if (result.error) fail(`could not run ${PULUMI_CLI}: ${result.error.message} (run npm ci first)`);
  return { status: result.status ?? 1, stdout: result.stdout ?? "" };
}

const [command, stack, ...flags] = process.argv.slice(2);
if (command !== "preview" && command !== "up") fail("usage: tsx scripts/pulumi.ts <preview|up> <stack> [pulumi flags]");
const stackFile = join(ROOT, `Pulumi.${stack}.yaml`);
if (!stack || !existsSync(stackFile)) fail(`usage: npm run ${command} -- <stack>   (a Pulumi.<stack>.yaml must exist; got ${stack ?? "none"})`);

const { provider, rest } = takeSecretsProvider(flags);
const env: NodeJS.ProcessEnv = { ...process.env };
if (!env.PULUMI_BACKEND_URL) {
  mkdirSync(LOCAL_STATE, { recursive: true });
  env.PULUMI_BACKEND_URL = `file://${LOCAL_STATE}`;
}
const secretsProvider = provider ?? recordedSecretsProvider(stackFile) ?? "passphrase";
if (secretsProvider === "passphrase" && env.PULUMI_CONFIG_PASSPHRASE === undefined && env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined) {
  if (!env.PULUMI_BACKEND_URL.startsWith("file://")) {
    fail(`stack ${stack} encrypts its secrets with a passphrase and the backend ${env.PULUMI_BACKEND_URL} is shared: set PULUMI_CONFIG_PASSPHRASE_FILE to the team's passphrase, or create the stack with --secrets-provider awskms://<key>?region=<region>`);
  }
  env.PULUMI_CONFIG_PASSPHRASE_FILE = localPassphraseFile(stack);
}

const select = ["stack", "select", "--create", stack, "--non-interactive", ...(provider ? ["--secrets-provider", provider] : [])];
if (run(select, env).status !== 0) process.exit(1);

// Without its config the pack runs every policy at its strictest level, ignoring the stack's exemptions.
const policy = ["--policy-pack", join(ROOT, "policies")];
const policyConfig = join(ROOT, "policies", "config", `${stack}.json`);
if (existsSync(policyConfig)) policy.push("--policy-pack-config", policyConfig);
else console.warn(`no ${relative(ROOT, policyConfig)}: every policy runs at its strictest level`);

const args = command === "preview" ? ["preview", "--stack", stack, "--diff", ...policy, ...rest] : ["up", "--stack", stack, ...policy, ...rest];
const status = run(args, env).status;
if (command === "up" && status === 0) {
  const outputs = run(["stack", "output", "--json", "--stack", stack], env, ["inherit", "pipe", "inherit"]);
  let lines: string[] = [];
  try {
    lines = endpointLines(JSON.parse(outputs.stdout || "{}"));
  } catch {
    console.warn("could not read `pulumi stack output --json`; run it yourself to see the endpoints");
  }
  if (lines.length > 0) {
    const settings = ["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE_FILE"].filter((name) => env[name] !== process.env[name]).map((name) => `${name}=${env[name]}`);
    console.log(`\nwhere stack ${stack} is; a credential: ${[...settings, "npx pulumi stack output --stack", stack, "--show-secrets <name>"].join(" ")}`);
    for (const line of lines) console.log(`  ${line}`);
  }
}
process.exit(status);
