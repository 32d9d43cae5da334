import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { EnvironmentValue } from "./job-types";

/** Reads a job's secret references from files the service was given (one file per secret name). */
export class SecretResolver {
  constructor(private readonly directory: string | undefined) {}

  async resolve(environment: Record<string, EnvironmentValue>): Promise<Record<string, string>> {
    const resolved: Record<string, string> = {};
    for (const [name, value] of Object.entries(environment)) {
      if ("value" in value) resolved[name] = value.value;
      else {
        if (!this.directory) throw new Error(`environment.${name}: secret ${value.secretRef} cannot be read: no secrets directory is configured`);
        resolved[name] = (await readFile(join(this.directory, value.secretRef), "utf8")).replace(/\n$/, "");
      }
    }
    return resolved;
  }

  /** Whether a reference names a secret the service holds; checked at submission so a typo is a 400, not a failed launch. */
  async exists(secretRef: string): Promise<boolean> {
    if (!this.directory) return false;
    try {
      await readFile(join(this.directory, secretRef));
      return true;
    } catch {
      return false;
    }
  }
}
