// The summary every bench prints beside its ratio. One definition, so that two benches' "median"
// cannot quietly disagree on an even count of rounds (some took the upper middle, some the mean of
// the two middles).

/**
 * The median of `values`: the middle one, or the mean of the two middle ones for an even count. A
 * median of nothing is a bench that measured nothing: it throws rather than print NaN as a ratio.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median: no values (the bench measured no rounds)");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
