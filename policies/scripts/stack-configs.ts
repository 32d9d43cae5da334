import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { policies } from "../pack";
import { STACK_NAMES, type StackName } from "../policy-definition";
import { stackPolicyConfig } from "../stack-config";

/*
 * The --policy-pack-config files the preview workflow hands to `pulumi preview` per stack,
 * generated from the policy objects (per-stack enforcement) and the stack exemptions.
 *   npx tsx policies/scripts/stack-configs.ts          rewrite policies/config/<stack>.json
 *   npx tsx policies/scripts/stack-configs.ts --check  exit 1 if a file is out of date
 */

export function stackConfigPath(stack: StackName): string {
  return join(__dirname, "..", "config", `${stack}.json`);
}

export function renderStackConfig(stack: StackName): string {
  return `${JSON.stringify(stackPolicyConfig(stack, policies), null, 2)}\n`;
}

if (require.main === module) {
  let stale = false;
  for (const stack of STACK_NAMES) {
    const path = stackConfigPath(stack);
    const text = renderStackConfig(stack);
    if (process.argv.includes("--check")) {
      let current = "";
      try {
        current = readFileSync(path, "utf8");
      } catch {
        current = "";
      }
      if (current !== text) {
        console.error(`${path}: out of date; run npx tsx policies/scripts/stack-configs.ts`);
        stale = true;
      }
    } else {
      writeFileSync(path, text);
    }
  }
  if (stale) process.exit(1);
}
