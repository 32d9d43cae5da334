/**
 * Readers for resource properties as the engine hands them to policies: plain JSON-like values
 * whose shape is not guaranteed (a typo in a program reaches the pack as-is), so every reader
 * tolerates the wrong type and answers "absent" rather than throwing.
 */

/** What the offline inventory puts where a Pulumi secret was; never a literal. */
export const SECRET_PLACEHOLDER = "[secret]";

export type PropertyRecord = Record<string, unknown>;

export function asRecord(value: unknown): PropertyRecord | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as PropertyRecord) : undefined;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asRecords(value: unknown): PropertyRecord[] {
  return asArray(value).flatMap((item) => {
    const record = asRecord(item);
    return record ? [record] : [];
  });
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asStrings(value: unknown): string[] {
  return asArray(value).flatMap((item) => (typeof item === "string" ? [item] : []));
}

export function asNumber(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** Booleans sometimes arrive as strings ("true" for AWS launch-template EBS flags). */
export function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  return undefined;
}

/** Follows a path of keys and array indexes; undefined as soon as a step is missing. */
export function at(value: unknown, ...path: (string | number)[]): unknown {
  let current: unknown = value;
  for (const step of path) {
    if (typeof step === "number") {
      if (!Array.isArray(current)) return undefined;
      current = current[step];
    } else {
      const record = asRecord(current);
      if (!record) return undefined;
      current = record[step];
    }
  }
  return current;
}

/** A value a person typed into the program, as opposed to a secret reference or nothing. */
export function isLiteralValue(value: string | undefined): value is string {
  return value !== undefined && value !== "" && value !== SECRET_PLACEHOLDER;
}

/** A string inside a value: where it was found, and the record that holds it under `value` (an env entry, a Docker label). */
export interface StringLeaf {
  path: string;
  value: string;
  /** The entry's own name (`name`, or a Docker label's `label`) when the string is an entry's `value`. */
  entryName?: string;
}

/**
 * Every string inside a value, with the dotted path it was found at. `read` guards each step
 * (the engine's preview proxy throws on values not known yet; those hold no literal).
 */
export function stringLeaves(value: unknown, read: <T>(step: () => T) => T | undefined, path = ""): StringLeaf[] {
  if (typeof value === "string") return [{ path, value }];
  if (Array.isArray(value)) {
    const leaves: StringLeaf[] = [];
    for (let index = 0; index < value.length; index += 1) leaves.push(...stringLeaves(read((): unknown => value[index]), read, `${path}[${index}]`));
    return leaves;
  }
  const record = asRecord(value);
  if (!record) return [];
  return Object.keys(record).flatMap((key) => {
    const childPath = path === "" ? key : `${path}.${key}`;
    const leaves = stringLeaves(read(() => record[key]), read, childPath);
    // Only a string held directly under `value` is the entry's value.
    if (key !== "value" || leaves.length !== 1 || leaves[0]!.path !== childPath) return leaves;
    const entryName = asString(read(() => record["name"])) ?? asString(read(() => record["label"]));
    return entryName === undefined ? leaves : [{ ...leaves[0]!, entryName }];
  });
}
