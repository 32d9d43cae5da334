// The benchmarks' BENCH_* knobs. `Number("abc")` is NaN and `Number("")` is 0: a typo would run no
// rounds, or zero-second ones, and print a ratio of nothing. Each knob is read once, before any
// server starts, and a bad one stops the run naming the variable, the reason and the value seen.

export interface NumericSettingRule {
  /** Whole numbers only (rounds, clients, connections); default true. */
  integer?: boolean;
  /** Smallest value accepted; default 1 (every knob counts or lasts something). */
  min?: number;
}

export function numericSetting(name: string, fallback: number, rule: NumericSettingRule = {}, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const integer = rule.integer ?? true;
  const min = rule.min ?? 1;
  const text = raw.trim();
  const value = Number(text);
  const kind = integer ? "an integer" : "a number";
  if (text === "" || !Number.isFinite(value)) throw new Error(`${name}: must be ${kind} >= ${min} (got ${JSON.stringify(raw)})`);
  if (integer && !Number.isInteger(value)) throw new Error(`${name}: must be ${kind} >= ${min}, not a fraction (got ${JSON.stringify(raw)})`);
  if (value < min) throw new Error(`${name}: must be ${kind} >= ${min} (got ${JSON.stringify(raw)})`);
  return value;
}
