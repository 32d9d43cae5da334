import { BucketSpec } from "./buckets";

/** One lifecycle rule of the typed model; both providers render it. */
export interface LifecycleRule {
  id: string;
  expireDays?: number;
  noncurrentExpireDays?: number;
}

/**
 * What a bucket should look like, whatever stores it: exactly one lifecycle rule set per bucket.
 * An empty rule set means "no lifecycle configuration", which the renderers turn into removing one.
 */
export interface BucketPlan {
  name: string;
  versioning: boolean;
  rules: LifecycleRule[];
}

export function planBucket(bucket: BucketSpec): BucketPlan {
  const hasExpiry = bucket.expireDays !== undefined || bucket.noncurrentExpireDays !== undefined;
  // One rule carrying both actions: S3 and MinIO evaluate them independently, and a single
  // rule id per bucket keeps the rendered configuration stable when only the days change.
  const rules: LifecycleRule[] = hasExpiry
    ? [
        {
          id: `${bucket.name}-retention`,
          ...(bucket.expireDays !== undefined ? { expireDays: bucket.expireDays } : {}),
          ...(bucket.noncurrentExpireDays !== undefined ? { noncurrentExpireDays: bucket.noncurrentExpireDays } : {}),
        },
      ]
    : [];
  return { name: bucket.name, versioning: bucket.versioning, rules };
}

export function planBuckets(buckets: BucketSpec[]): BucketPlan[] {
  return buckets.map(planBucket);
}
