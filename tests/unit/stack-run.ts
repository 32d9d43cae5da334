import { main } from "../../stacks/program";
import { isSecretMarker, plainStrings, readStackConfig, RecordedResource, runProgram, StackRun } from "../../scripts/mock-engine";

/** One stack run through the mock engine, with the look-ups the tests share. */
export interface StackView extends StackRun {
  all(type: string): RecordedResource[];
  one(type: string, name: string | RegExp): RecordedResource;
  parentOf(resource: RecordedResource): RecordedResource | undefined;
  /** Resource inputs with secret markers replaced by their values (what the provider receives). */
  revealed(resource: RecordedResource): Record<string, unknown>;
}

export function unwrapSecrets(value: unknown): unknown {
  if (isSecretMarker(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  return value;
}

export function view(run: StackRun): StackView {
  return {
    ...run,
    all: (type) => run.resources.filter((r) => r.type === type),
    one: (type, name) => {
      const found = run.resources.filter((r) => r.type === type && (typeof name === "string" ? r.name === name : name.test(r.name)));
      if (found.length !== 1) throw new Error(`expected one ${type} named ${String(name)}, found ${found.map((r) => r.name).join(", ") || "none"}`);
      return found[0];
    },
    parentOf: (resource) => run.resources.find((r) => r.urn === resource.parent),
    revealed: (resource) => unwrapSecrets(resource.inputs) as Record<string, unknown>,
  };
}

export async function runStack(stack: string, config: Record<string, string> = readStackConfig(stack), options: Parameters<typeof runProgram>[3] = {}): Promise<StackView> {
  return view(await runProgram(stack, config, main, options));
}

/** Plain-text places (resource inputs and non-secret outputs) where a generated secret shows up. */
export function secretLeaks(run: StackRun): string[] {
  const leaks: string[] = [];
  const check = (where: string, value: unknown) => {
    for (const leaf of plainStrings(value)) {
      for (const secret of run.generatedSecrets) {
        if (secret.length >= 8 && leaf.value.includes(secret)) leaks.push(`${where}.${leaf.path}`);
      }
    }
  };
  for (const resource of run.resources) check(`${resource.type} ${resource.name}`, resource.inputs);
  check("outputs", run.outputs);
  return leaks;
}
