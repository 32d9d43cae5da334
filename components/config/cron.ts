/** Five-field cron expressions (minute hour day-of-month month day-of-week), as CronJob takes them. */

export const CRON_FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

const PART = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/;

function partProblem(part: string, field: (typeof CRON_FIELDS)[number]): string | undefined {
  const match = PART.exec(part);
  if (!match) return `${field.name} field "${part}" is not *, N, N-M or a step of those`;
  const [, , from, to, step] = match;
  for (const n of [from, to]) {
    if (n !== undefined && (Number(n) < field.min || Number(n) > field.max)) {
      return `${field.name} ${n} is outside ${field.min}-${field.max}`;
    }
  }
  if (from !== undefined && to !== undefined && Number(from) > Number(to)) return `${field.name} range ${from}-${to} runs backwards`;
  if (step !== undefined && Number(step) === 0) return `${field.name} step must be at least 1`;
  return undefined;
}

/** Why `expression` is not a five-field cron expression, or undefined when it is one. */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return `must be a cron expression with 5 fields (minute hour day month weekday), found ${fields.length}`;
  for (let i = 0; i < 5; i++) {
    for (const part of fields[i].split(",")) {
      const problem = partProblem(part, CRON_FIELDS[i]);
      if (problem) return `is not a valid cron expression: ${problem}`;
    }
  }
  return undefined;
}

/** Whether a valid cron expression fires at the given UTC minute. */
export function cronMatches(expression: string, at: Date): boolean {
  const values = [at.getUTCMinutes(), at.getUTCHours(), at.getUTCDate(), at.getUTCMonth() + 1, at.getUTCDay()];
  const fields = expression.trim().split(/\s+/);
  const matchesField = (i: number): boolean =>
    fields[i].split(",").some((part) => {
      const [, star, from, to, step] = PART.exec(part) ?? [];
      const lo = star === "*" ? CRON_FIELDS[i].min : Number(from);
      const hi = star === "*" || (to === undefined && step !== undefined) ? CRON_FIELDS[i].max : to === undefined ? lo : Number(to);
      const stride = step === undefined ? 1 : Number(step);
      const value = i === 4 && values[i] === 0 && hi === 7 && lo > 0 ? 7 : values[i];
      return value >= lo && value <= hi && (value - lo) % stride === 0;
    });
  const domRestricted = fields[2] !== "*";
  const dowRestricted = fields[4] !== "*";
  const dayMatches = domRestricted && dowRestricted ? matchesField(2) || matchesField(4) : matchesField(2) && matchesField(4);
  return matchesField(0) && matchesField(1) && matchesField(3) && dayMatches;
}
