/**
 * Values in the form the Docker provider (terraform-provider-docker under @pulumi/docker) writes
 * back into the state when it reads a container. Every container field it reads is ForceNew, so
 * an input in any other form differs from the state on every later `up` and replaces the
 * container: a restart of each database per deployment.
 */

/**
 * `cpus` as the provider reads it back: it parses the string into nano-CPUs and prints them with
 * `nanoInt64ToDecimalString`, which gives "1.0" for 1e9 (any value whose 9-decimal print has
 * exactly nine zeros is printed with one decimal) and otherwise trims trailing zeros ("1.5",
 * "0.25", and "10." for ten CPUs). Docker itself refuses more than nine decimals.
 */
export function dockerCpus(cpu: number): string {
  if (!Number.isFinite(cpu) || cpu <= 0) throw new Error(`cpus must be a positive number (got ${cpu})`);
  const nano = BigInt(Math.round(cpu * 1e9));
  if (Math.abs(Number(nano) - cpu * 1e9) > 1e-3) throw new Error(`cpus ${cpu} has more than nine decimals, which Docker refuses`);
  const nineDecimals = `${nano / 1_000_000_000n}.${(nano % 1_000_000_000n).toString().padStart(9, "0")}`;
  if ((nineDecimals.match(/0/g) ?? []).length === 9) return oneDecimal(nano);
  return nineDecimals.replace(/0+$/, "");
}

/** big.Rat.FloatString(1): rounded to one decimal, halves away from zero. */
function oneDecimal(nano: bigint): string {
  const tenths = (nano + 50_000_000n) / 100_000_000n;
  return `${tenths / 10n}.${tenths % 10n}`;
}

/**
 * A duration as Go's time.Duration.String() prints it, which is how the provider reads back
 * healthcheck interval, timeout and start period: "10s", "1m0s", "5m0s", "1h0m0s", "500ms".
 */
export function goDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`a duration must be zero or more seconds (got ${seconds})`);
  const millis = Math.round(seconds * 1000);
  if (millis === 0) return "0s";
  if (millis < 1000) return `${millis}ms`;
  const hours = Math.floor(millis / 3_600_000);
  const minutes = Math.floor((millis % 3_600_000) / 60_000);
  const rest = (millis % 60_000) / 1000;
  const secondsText = `${Number.isInteger(rest) ? rest : rest.toFixed(3).replace(/0+$/, "")}s`;
  if (hours > 0) return `${hours}h${minutes}m${secondsText}`;
  if (minutes > 0) return `${minutes}m${secondsText}`;
  return secondsText;
}

/**
 * A Linux capability as the Docker client sends it and the engine stores it (upper case with
 * the CAP_ prefix; "ALL" stays "ALL"). The provider reads CapAdd/CapDrop back verbatim.
 */
export function dockerCapability(name: string): string {
  const upper = name.toUpperCase();
  return upper === "ALL" || upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
}

/** The client sends capabilities de-duplicated and sorted. */
export function dockerCapabilities(names: readonly string[]): string[] {
  return [...new Set(names.map(dockerCapability))].sort();
}
