import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "../components/config";
import { Platform } from "../components/platform";

/**
 * The program: validate config first (nothing is registered when it is wrong), then build the
 * Platform and return the stack outputs.
 */
export async function main(): Promise<Record<string, unknown>> {
  const config = loadStackConfig(pulumi.getStack(), pulumi.runtime.allConfig());
  const platform = new Platform(config.environment, { config });
  return platform.stackOutputs();
}
