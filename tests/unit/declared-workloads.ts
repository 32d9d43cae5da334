import { vi } from "vitest";
import { DockerRuntime } from "../../components/runtime/docker";
import { KubernetesRuntime } from "../../components/runtime/kubernetes";
import { WorkloadPort, Zone } from "../../components/runtime/workload";
import { readStackConfig } from "../../scripts/mock-engine";
import { runStack, StackView } from "./stack-run";

/** What a layer asked the runtime for: the zone rule is stated here, before any rendering. */
export interface Declared {
  kind: "deploy" | "run" | "schedule";
  name: string;
  zones: Zone[];
  ports: WorkloadPort[];
}

/**
 * Runs a stack through the mock engine and records every Workload, Job and ScheduledJob the
 * layers hand to the runtime, so a test can compare what was declared with what was rendered.
 */
export async function runStackDeclaring(stack: string, config: Record<string, string> = readStackConfig(stack)): Promise<{ view: StackView; declared: Declared[] }> {
  const declared: Declared[] = [];
  const spies = [DockerRuntime.prototype, KubernetesRuntime.prototype].flatMap((prototype) =>
    (["deploy", "run", "schedule"] as const).map((kind) => {
      const original = prototype[kind] as (this: unknown, ...args: unknown[]) => unknown;
      return vi.spyOn(prototype, kind).mockImplementation(function (this: unknown, ...args: unknown[]) {
        const spec = args[0] as { name: string; zones: Zone[]; ports?: WorkloadPort[] };
        declared.push({ kind, name: spec.name, zones: [...spec.zones], ports: [...(spec.ports ?? [])] });
        return original.apply(this, args);
      } as never);
    }),
  );
  try {
    return { view: await runStack(stack, config), declared };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}
