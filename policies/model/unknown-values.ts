import { asRecord, type PropertyRecord } from "./property-values";

/**
 * An object whose fields are computed on first read. During `pulumi preview` the engine hands
 * policies inputs in which some values are not known yet, and reading one throws; a view that
 * reads only the fields a rule asks for lets every other rule still judge the resource.
 */
export function lazyView<T extends object>(compute: { [K in keyof T]: () => T[K] }): T {
  const view = {} as T;
  for (const key of Object.keys(compute) as (keyof T)[]) {
    let computed = false;
    let value: T[keyof T];
    Object.defineProperty(view, key, {
      enumerable: true,
      get: () => {
        if (!computed) {
          value = compute[key]();
          computed = true;
        }
        return value;
      },
    });
  }
  return view;
}

/**
 * Reads a value that may not be known during preview. The engine's input proxy throws its
 * UnknownValueError (not exported by @pulumi/policy, hence the name check); for rules that look
 * for literals, a value not known yet is not a literal.
 */
export function readKnown<T>(read: () => T): T | undefined {
  const result = readIfKnown(read);
  return result.known ? result.value : undefined;
}

/** As readKnown, for callers that must tell "not known yet" from a read that found nothing. */
export function readIfKnown<T>(read: () => T): { known: true; value: T } | { known: false } {
  try {
    return { known: true, value: read() };
  } catch (error) {
    if (error instanceof Error && error.constructor.name === "UnknownValueError") return { known: false };
    throw error;
  }
}

/**
 * The known entries of a list: during preview the list, or an entry built from another resource's
 * output, may not be known yet. Indexes are read one by one because the engine's proxy throws on
 * the unknown element itself (Array methods would read it first).
 */
export function knownItems(read: () => unknown): unknown[] {
  const list = readKnown(read);
  if (!Array.isArray(list)) return [];
  const items: unknown[] = [];
  for (let index = 0; index < list.length; index += 1) {
    const item = readKnown((): unknown => list[index]);
    if (item !== undefined) items.push(item);
  }
  return items;
}

export function knownStrings(read: () => unknown): string[] {
  return knownItems(read).filter((item): item is string => typeof item === "string");
}

export function knownRecords(read: () => unknown): PropertyRecord[] {
  return knownItems(read).flatMap((item) => {
    const record = asRecord(item);
    return record ? [record] : [];
  });
}
