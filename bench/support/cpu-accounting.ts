// Where the cores went during a measurement (Linux /proc). On a small machine the load generator,
// the service and its servers share the cores, so a ratio read on a busy machine says how much CPU
// each path spends per operation, not how fast the slower path could go alone. These readings let
// a bench print that split beside its ratio.
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc's CPU figures (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

export interface MachineTicks {
  busy: number;
  total: number;
}

/** Every core's busy and total clock ticks since boot (/proc/stat's first line). */
export function machineTicks(): MachineTicks {
  const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
  const ticks = fields.map(Number);
  const idle = ticks[3]! + ticks[4]!;
  const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return { busy: total - idle, total };
}

/** A process's user and system clock ticks (/proc/<pid>/stat fields 14 and 15); "self" for this one. */
export function processTicks(pid: number | "self"): number {
  const fields = statFields(pid);
  return Number(fields[11]) + Number(fields[12]);
}

/** User and system clock ticks of this process's children that have ended (/proc/self/stat fields 16 and 17). */
export function childrenTicks(): number {
  const fields = statFields("self");
  return Number(fields[13]) + Number(fields[14]);
}

function statFields(pid: number | "self"): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name in parentheses may hold spaces; the fields after it are space-separated.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

export interface CpuSpent {
  /** Share of all cores that were busy, 0..1. */
  busyShare: number;
  /** Milliseconds of CPU the whole machine spent per operation. */
  machineMsPerOp: number;
  /** Milliseconds of CPU this process (all its threads) spent per operation. */
  ownMsPerOp: number;
}

/** Runs `measure` (which returns how many operations it completed) and reports the CPU they cost. */
export async function cpuSpent<T extends { operations: number }>(measure: () => Promise<T>): Promise<T & { cpu: CpuSpent }> {
  const machineBefore = machineTicks();
  const ownBefore = processTicks("self");
  const result = await measure();
  const machine = machineTicks();
  const own = processTicks("self");
  const perOp = (ticks: number) => (ticks * 1000) / CLOCK_TICKS_PER_SECOND / Math.max(1, result.operations);
  return {
    ...result,
    cpu: {
      busyShare: (machine.busy - machineBefore.busy) / Math.max(1, machine.total - machineBefore.total),
      machineMsPerOp: perOp(machine.busy - machineBefore.busy),
      ownMsPerOp: perOp(own - ownBefore),
    },
  };
}
