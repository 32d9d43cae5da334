// The benchmarks' BENCH_* knobs, each read once before any server starts. `Number("abc")` is NaN
// and `Number("")` is 0: a typo would run no rounds, or zero-second ones, and print a ratio of
// nothing; an unknown name would measure the default under the wrong label. A bad knob stops the
// run naming the variable, the reason and the value seen.

/** A whole number of at least `min` (default 1: every knob counts or lasts something). */
export function numericSetting(name: string, fallback: number, rule: { min?: number } = {}, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const min = rule.min ?? 1;
  const text = raw.trim();
  const value = Number(text);
  if (text === "" || !Number.isFinite(value)) throw new Error(`${name}: must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
  if (!Number.isInteger(value)) throw new Error(`${name}: must be an integer >= ${min}, not a fraction (got ${JSON.stringify(raw)})`);
  if (value < min) throw new Error(`${name}: must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
  return value;
}

/** One of `choices`; `fallback` when unset. */
export function choiceSetting<T extends string>(name: string, choices: readonly T[], fallback: T, env: NodeJS.ProcessEnv = process.env): T {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const found = choices.find((choice) => choice === raw);
  if (found === undefined) throw new Error(`${name}: must be one of ${choices.join(", ")} (got ${JSON.stringify(raw)})`);
  return found;
}
