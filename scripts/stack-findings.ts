import { evaluate, type Finding } from "../policies/evaluate";
import { redactSecrets, StackRun } from "./mock-engine";

export type { Finding };

/**
 * The policy pack's findings on a stack run. Secrets are handed over as "[secret]", as the pack
 * would see a value it must not treat as a literal.
 */
export function findingsFor(run: StackRun): Promise<Finding[]> {
  const resources = run.resources
    .filter((r) => r.type !== "pulumi:pulumi:Stack")
    .map((r) => ({ type: r.type, name: r.name, urn: r.urn, props: redactSecrets(r.inputs) as Record<string, unknown> }));
  return evaluate(resources, { stack: run.stack });
}
