/**
 * `npm run inventory -- <stack> [--json] [--policy]`: the resource graph of a stack through the
 * mock engine, with policy findings. Needs no Pulumi CLI, no cloud and no Docker.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { StackConfigError } from "../components/config";
import { main } from "../stacks/program";
import { readStackConfig, redactSecrets, runProgram, RecordedResource } from "./mock-engine";
import { findingsFor } from "./stack-findings";

function usage(message: string): never {
  console.error(`${message}\nusage: npm run inventory -- <stack> [--json] [--policy]`);
  process.exit(2);
}

function parentName(resources: RecordedResource[], parent: string | undefined): string | null {
  if (!parent) return null;
  return resources.find((r) => r.urn === parent)?.name ?? parent.split("::").pop() ?? null;
}

async function inventory(): Promise<number> {
  const args = process.argv.slice(2);
  const stack = args.find((a) => !a.startsWith("--"));
  const unknown = args.filter((a) => a.startsWith("--") && !["--json", "--policy"].includes(a));
  if (unknown.length > 0) usage(`unknown option ${unknown.join(", ")}`);
  if (!stack) usage("which stack?");
  const file = join(__dirname, "..", `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) usage(`no Pulumi.${stack}.yaml`);
  let run;
  try {
    run = await runProgram(stack, readStackConfig(stack), main);
  } catch (error) {
    if (error instanceof StackConfigError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  const resources = run.resources.filter((r) => r.type !== "pulumi:pulumi:Stack");
  const findings = await findingsFor(run);
  if (args.includes("--json")) {
    const json = {
      stack,
      resources: resources.map((r) => ({ type: r.type, name: r.name, parent: parentName(run.resources, r.parent), inputs: redactSecrets(r.inputs) })),
      findings,
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    const width = Math.max(...resources.map((r) => r.type.length));
    for (const r of resources) console.log(`${r.type.padEnd(width)}  ${r.name}  <- ${parentName(run.resources, r.parent) ?? "(stack)"}`);
    console.log(`\n${resources.length} resources in stack ${stack}`);
    for (const f of findings) console.log(`[${f.enforcement}] ${f.policy}: ${f.type} ${f.name}: ${f.message}`);
    console.log(`${findings.filter((f) => f.enforcement === "mandatory").length} mandatory and ${findings.filter((f) => f.enforcement === "advisory").length} advisory policy findings`);
  }
  return args.includes("--policy") && findings.some((f) => f.enforcement === "mandatory") ? 1 : 0;
}

inventory().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exit(1);
  },
);
