import { Field } from "./schema-fields";
import { cronProblem } from "./cron";
import { imageReferenceProblem } from "./image-reference";

export interface Checked {
  value: unknown;
  errors: string[];
}

/** Edit distance, for "did you mean" on unknown keys. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

export function shown(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The default a field takes when the key is absent (objects take their fields' defaults). */
export function defaultOf(field: Field): unknown {
  switch (field.kind) {
    case "object":
      return Object.fromEntries(Object.entries(field.fields).map(([name, child]) => [name, defaultOf(child)]));
    case "record":
      return Object.fromEntries(
        Object.entries(field.default ?? {}).map(([name, value]) => [name, checkField(value, field.values, name).value]),
      );
    default:
      return field.default;
  }
}

/**
 * Checks `value` against `field`, filling defaults. Every problem becomes one line that starts
 * with the full key, so a user can find it in Pulumi.<stack>.yaml without reading code.
 */
export function checkField(value: unknown, field: Field, key: string): Checked {
  if (value === undefined) return { value: defaultOf(field), errors: field.required ? [`${key}: required (${field.doc})`] : [] };
  switch (field.kind) {
    case "string": {
      if (typeof value !== "string") return { value, errors: [`${key}: must be a string (got ${shown(value)})`] };
      if (field.oneOf && !field.oneOf.includes(value)) {
        return { value, errors: [`${key}: must be one of ${field.oneOf.join(", ")} (got ${shown(value)})`] };
      }
      if (field.pattern && !field.pattern.test(value)) {
        return { value, errors: [`${key}: must be ${field.patternDoc ?? `a string matching ${field.pattern}`} (got ${shown(value)})`] };
      }
      return { value, errors: [] };
    }
    case "integer":
    case "number": {
      const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
      if (typeof number !== "number" || Number.isNaN(number)) {
        return { value, errors: [`${key}: must be a number (got ${shown(value)})`] };
      }
      if (field.kind === "integer" && !Number.isInteger(number)) {
        return { value, errors: [`${key}: must be a whole number (got ${shown(value)})`] };
      }
      if (number < field.min) return { value, errors: [`${key}: must be at least ${field.min} (got ${shown(value)})`] };
      if (number > field.max) return { value, errors: [`${key}: must be at most ${field.max} (got ${shown(value)})`] };
      return { value: number, errors: [] };
    }
    case "boolean": {
      if (value === true || value === "true") return { value: true, errors: [] };
      if (value === false || value === "false") return { value: false, errors: [] };
      return { value, errors: [`${key}: must be true or false (got ${shown(value)})`] };
    }
    case "image": {
      if (typeof value !== "string") return { value, errors: [`${key}: must be an image reference string (got ${shown(value)})`] };
      const problem = imageReferenceProblem(value);
      return { value, errors: problem ? [`${key}: ${problem} (got ${shown(value)})`] : [] };
    }
    case "cron": {
      if (typeof value !== "string") return { value, errors: [`${key}: must be a cron expression string (got ${shown(value)})`] };
      const problem = cronProblem(value);
      return { value, errors: problem ? [`${key}: ${problem} (got ${shown(value)})`] : [] };
    }
    case "object":
      return checkObject(value, field.fields, key);
    case "array": {
      if (!Array.isArray(value)) return { value, errors: [`${key}: must be a list (got ${shown(value)})`] };
      if (field.maxItems !== undefined && value.length > field.maxItems) {
        return { value, errors: [`${key}: must have at most ${field.maxItems} entries (got ${value.length})`] };
      }
      const checked = value.map((item, i) => checkField(item, field.items, `${key}[${i}]`));
      return { value: checked.map((c) => c.value), errors: checked.flatMap((c) => c.errors) };
    }
    case "record": {
      if (!isPlainObject(value)) return { value, errors: [`${key}: must be a map (got ${shown(value)})`] };
      const errors: string[] = [];
      const result: Record<string, unknown> = {};
      for (const [name, entry] of Object.entries(value)) {
        if (!field.keys.includes(name)) {
          const suggestion = closest(name, field.keys);
          errors.push(`${key}.${name}: unknown entry${suggestion ? ` (did you mean ${key}.${suggestion}?)` : ` (known: ${field.keys.join(", ")})`}`);
          continue;
        }
        const checked = checkField(entry, field.values, `${key}.${name}`);
        errors.push(...checked.errors);
        result[name] = checked.value;
      }
      return { value: result, errors };
    }
    case "custom": {
      const errors = field.validate(value, key);
      return { value, errors };
    }
  }
}

export function checkObject(value: unknown, fields: Record<string, Field>, key: string): Checked {
  if (!isPlainObject(value)) return { value, errors: [`${key}: must be an object with keys ${Object.keys(fields).join(", ")} (got ${shown(value)})`] };
  const errors: string[] = [];
  const result: Record<string, unknown> = {};
  for (const name of Object.keys(value)) {
    if (!(name in fields)) {
      const suggestion = closest(name, Object.keys(fields));
      errors.push(`${key}.${name}: unknown key${suggestion ? ` (did you mean ${key}.${suggestion}?)` : ""}`);
    }
  }
  for (const [name, child] of Object.entries(fields)) {
    const checked = checkField(value[name], child, `${key}.${name}`);
    errors.push(...checked.errors);
    result[name] = checked.value;
  }
  return { value: result, errors };
}
