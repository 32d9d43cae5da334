/** One bucket of object storage, the same for MinIO and S3. */
export interface BucketSpec {
  /** Logical name; S3 bucket names get the stack's prefix, MinIO uses it as is. */
  name: string;
  versioning: boolean;
  /** Current versions are expired (deleted, or hidden behind a delete marker when versioned) after this many days. */
  expireDays?: number;
  /** Noncurrent versions are removed for good this many days after they stopped being current. */
  noncurrentExpireDays?: number;
}

/** The bucket the database backup job writes to; the backup writer's credentials are limited to it. */
export const BACKUPS_BUCKET = "backups";
export const MEDIA_BUCKET = "media";

/**
 * Overwritten or deleted media stays recoverable this long; a month covers the time it takes
 * someone to notice a bad bulk edit, without keeping every revision of large files forever.
 */
export const MEDIA_NONCURRENT_DAYS = 30;

export function defaultBuckets(backupRetentionDays: number): BucketSpec[] {
  return [
    // A backup older than the retention is expired, and its noncurrent copy (left by the expiry
    // or by an overwrite) is kept the same time again, so a mistaken delete can still be undone.
    { name: BACKUPS_BUCKET, versioning: true, expireDays: backupRetentionDays, noncurrentExpireDays: backupRetentionDays },
    { name: MEDIA_BUCKET, versioning: true, noncurrentExpireDays: MEDIA_NONCURRENT_DAYS },
  ];
}

const BUCKET_KEYS = ["name", "versioning", "expireDays", "noncurrentExpireDays"] as const;

/** Longest logical name: S3 allows 63 characters, and the stack prefix plus a dash come first. */
export const MAX_BUCKET_NAME_LENGTH = 40;
const BUCKET_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** S3 lifecycle days are an integer; a century is far past any retention this platform means. */
export const MAX_LIFECYCLE_DAYS = 36_500;

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return String(value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previousDiagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previousDiagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      previousDiagonal = above;
    }
  }
  return row[b.length]!;
}

function suggestKey(key: string): string {
  const closest = BUCKET_KEYS.map((known) => ({ known, distance: editDistance(key.toLowerCase(), known.toLowerCase()) }))
    .sort((x, y) => x.distance - y.distance)[0];
  return closest && closest.distance <= 3 ? ` (did you mean ${closest.known}?)` : ` (known keys: ${BUCKET_KEYS.join(", ")})`;
}

function checkDays(value: unknown, key: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value)) return `${key}: must be a whole number of days (got ${describe(value)})`;
  if (value < 1) return `${key}: must be at least 1 day (got ${value})`;
  if (value > MAX_LIFECYCLE_DAYS) return `${key}: must be at most ${MAX_LIFECYCLE_DAYS} days (got ${value})`;
  return undefined;
}

function checkBucket(entry: unknown, key: string): string[] {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    return [`${key}: must be an object with name and versioning (got ${describe(entry)})`];
  }
  const bucket = entry as Record<string, unknown>;
  const problems: string[] = [];
  for (const unknownKey of Object.keys(bucket).filter((k) => !(BUCKET_KEYS as readonly string[]).includes(k))) {
    problems.push(`${key}.${unknownKey}: unknown key${suggestKey(unknownKey)}`);
  }
  const name = bucket.name;
  if (typeof name !== "string") {
    problems.push(`${key}.name: must be a string (got ${describe(name)})`);
  } else if (name.length < 3 || name.length > MAX_BUCKET_NAME_LENGTH) {
    problems.push(`${key}.name: must be 3 to ${MAX_BUCKET_NAME_LENGTH} characters (got ${JSON.stringify(name)}, ${name.length})`);
  } else if (!BUCKET_NAME.test(name)) {
    problems.push(
      `${key}.name: must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (got ${JSON.stringify(name)})`,
    );
  }
  if (typeof bucket.versioning !== "boolean") {
    problems.push(`${key}.versioning: must be true or false (got ${describe(bucket.versioning)})`);
  }
  for (const field of ["expireDays", "noncurrentExpireDays"] as const) {
    const problem = checkDays(bucket[field], `${key}.${field}`);
    if (problem) problems.push(problem);
  }
  if (bucket.noncurrentExpireDays !== undefined && bucket.versioning === false) {
    problems.push(
      `${key}.noncurrentExpireDays: needs versioning: true, an unversioned bucket keeps no noncurrent versions (got ${describe(bucket.noncurrentExpireDays)})`,
    );
  }
  return problems;
}

/**
 * Every problem of a bucket list, one line each, the full key first:
 * `fundament:storage.buckets[1].name: must be ...`.
 */
export function validateBuckets(buckets: unknown, keyPrefix: string): string[] {
  if (!Array.isArray(buckets)) return [`${keyPrefix}: must be a list of buckets (got ${describe(buckets)})`];
  const problems = buckets.flatMap((entry, index) => checkBucket(entry, `${keyPrefix}[${index}]`));
  const seen = new Map<string, number>();
  buckets.forEach((entry, index) => {
    const name = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>).name : undefined;
    if (typeof name !== "string") return;
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push(`${keyPrefix}[${index}].name: duplicates ${keyPrefix}[${first}].name (got ${JSON.stringify(name)})`);
    } else {
      seen.set(name, index);
    }
  });
  if (!seen.has(BACKUPS_BUCKET)) {
    problems.push(`${keyPrefix}: must include a bucket named "${BACKUPS_BUCKET}" (the database backup job writes there)`);
  }
  return problems;
}

/** Throws one error naming every problem, before any resource is created. */
export function assertValidBuckets(buckets: unknown, keyPrefix: string): asserts buckets is BucketSpec[] {
  const problems = validateBuckets(buckets, keyPrefix);
  if (problems.length > 0) throw new Error(`invalid buckets:\n${problems.join("\n")}`);
}
