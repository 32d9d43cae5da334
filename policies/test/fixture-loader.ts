import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import type { FailCase, PassCase } from "../../tests/fixtures/policies/fixture-case";

export const FIXTURE_ROOT = join(__dirname, "..", "..", "tests", "fixtures", "policies");

export interface LoadedFixtures<T> {
  /** Path below tests/fixtures/policies, e.g. "secrets/fail.no-plaintext-secret-in-pod-env.ts". */
  file: string;
  cases: T[];
}

function fixtureFiles(prefix: "pass" | "fail"): string[] {
  return readdirSync(FIXTURE_ROOT, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((directory) =>
      readdirSync(join(FIXTURE_ROOT, directory.name))
        .filter((name) => name.startsWith(`${prefix}.`) && name.endsWith(".ts"))
        .map((name) => join(FIXTURE_ROOT, directory.name, name)),
    )
    .sort();
}

async function load<T>(prefix: "pass" | "fail"): Promise<LoadedFixtures<T>[]> {
  const loaded: LoadedFixtures<T>[] = [];
  for (const path of fixtureFiles(prefix)) {
    const module = (await import(path)) as { cases?: T[] };
    if (!Array.isArray(module.cases) || module.cases.length === 0) throw new Error(`${path}: exports no cases`);
    loaded.push({ file: relative(FIXTURE_ROOT, path), cases: module.cases });
  }
  return loaded;
}

export const loadPassFixtures = (): Promise<LoadedFixtures<PassCase>[]> => load<PassCase>("pass");
export const loadFailFixtures = (): Promise<LoadedFixtures<FailCase>[]> => load<FailCase>("fail");
