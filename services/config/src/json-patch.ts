/**
 * RFC 6902 JSON Patch between two versions of a configuration document. Every version stores
 * the patch from its predecessor so an auditor reads what changed without diffing by hand.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type PatchOperation =
  | { op: "add"; path: string; value: JsonValue }
  | { op: "remove"; path: string }
  | { op: "replace"; path: string; value: JsonValue };

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** RFC 6901: "~" and "/" inside a key are escaped so the pointer splits unambiguously. */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`JSON pointer ${JSON.stringify(pointer)} must start with "/"`);
  return pointer
    .slice(1)
    .split("/")
    .map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i] as JsonValue));
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key] as JsonValue, b[key] as JsonValue));
  }
  return false;
}

/** The operations that turn `before` into `after`; empty when they are equal. */
export function diffJson(before: JsonValue, after: JsonValue, path = ""): PatchOperation[] {
  if (jsonEqual(before, after)) return [];
  if (isJsonObject(before) && isJsonObject(after)) {
    const ops: PatchOperation[] = [];
    for (const key of Object.keys(before)) {
      if (!Object.hasOwn(after, key)) ops.push({ op: "remove", path: `${path}/${escapePointerToken(key)}` });
    }
    for (const key of Object.keys(after)) {
      const child = `${path}/${escapePointerToken(key)}`;
      if (!Object.hasOwn(before, key)) ops.push({ op: "add", path: child, value: after[key] as JsonValue });
      else ops.push(...diffJson(before[key] as JsonValue, after[key] as JsonValue, child));
    }
    return ops;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const ops: PatchOperation[] = [];
    const shared = Math.min(before.length, after.length);
    for (let i = 0; i < shared; i++) ops.push(...diffJson(before[i] as JsonValue, after[i] as JsonValue, `${path}/${i}`));
    for (let i = shared; i < after.length; i++) ops.push({ op: "add", path: `${path}/${i}`, value: after[i] as JsonValue });
    // Removing from the end first keeps the indices of the elements still to remove valid.
    for (let i = before.length - 1; i >= shared; i--) ops.push({ op: "remove", path: `${path}/${i}` });
    return ops;
  }
  return [{ op: "replace", path, value: after }];
}

function cloneJson<T extends JsonValue>(value: T): T {
  return structuredClone(value);
}

/** Defines an own property, so a key such as "__proto__" stays data and never reaches the prototype. */
export function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function arrayIndex(token: string, length: number, allowEnd: boolean, pointer: string): number {
  if (allowEnd && token === "-") return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`${pointer}: "${token}" is not an array index`);
  const index = Number(token);
  if (index > length || (!allowEnd && index === length)) throw new Error(`${pointer}: index ${index} is out of bounds`);
  return index;
}

/** Applies a patch to a copy of `document`; throws naming the pointer that does not resolve. */
export function applyPatch(document: JsonValue, ops: readonly PatchOperation[]): JsonValue {
  let root = cloneJson(document);
  for (const op of ops) {
    const tokens = parsePointer(op.path);
    if (tokens.length === 0) {
      if (op.op === "remove") throw new Error(`cannot remove the document root`);
      root = cloneJson(op.value);
      continue;
    }
    let parent: JsonValue = root;
    for (const token of tokens.slice(0, -1)) {
      const next: JsonValue | undefined = Array.isArray(parent)
        ? parent[arrayIndex(token, parent.length, false, op.path)]
        : isJsonObject(parent) && Object.hasOwn(parent, token)
          ? parent[token]
          : undefined;
      if (next === undefined) throw new Error(`${op.path}: path does not exist`);
      parent = next;
    }
    const last = tokens[tokens.length - 1] as string;
    if (Array.isArray(parent)) {
      const index = arrayIndex(last, parent.length, op.op === "add", op.path);
      if (op.op === "add") parent.splice(index, 0, cloneJson(op.value));
      else if (op.op === "remove") parent.splice(index, 1);
      else parent[index] = cloneJson(op.value);
    } else if (isJsonObject(parent)) {
      if (op.op !== "add" && !Object.hasOwn(parent, last)) throw new Error(`${op.path}: path does not exist`);
      if (op.op === "remove") delete parent[last];
      else setOwn(parent, last, cloneJson(op.value));
    } else {
      throw new Error(`${op.path}: parent is not a container`);
    }
  }
  return root;
}
