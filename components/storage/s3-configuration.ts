import { BucketPlan } from "./lifecycle-plan";

/*
 * The S3 API shapes the model targets, with S3's member names. MinIO's `mc ilm rule import`
 * decodes the same names (minio-go's lifecycle.Configuration), so this one JSON is both the
 * PutBucketLifecycleConfiguration body and the ILM file the bucket job imports.
 */

export interface S3LifecycleRule {
  ID: string;
  Status: "Enabled";
  /** An empty prefix is "every object"; MinIO rejects a rule that has neither Filter nor Prefix. */
  Filter: { Prefix: string };
  Expiration?: { Days: number };
  NoncurrentVersionExpiration?: { NoncurrentDays: number };
}

export interface S3LifecycleConfiguration {
  Rules: S3LifecycleRule[];
}

export interface S3VersioningConfiguration {
  Status: "Enabled" | "Suspended";
}

export function renderLifecycleConfiguration(plan: BucketPlan): S3LifecycleConfiguration {
  return {
    Rules: plan.rules.map((rule) => ({
      ID: rule.id,
      Status: "Enabled",
      Filter: { Prefix: "" },
      ...(rule.expireDays !== undefined ? { Expiration: { Days: rule.expireDays } } : {}),
      ...(rule.noncurrentExpireDays !== undefined ? { NoncurrentVersionExpiration: { NoncurrentDays: rule.noncurrentExpireDays } } : {}),
    })),
  };
}

/** The file `mc ilm rule import` reads on stdin. */
export function renderIlmJson(plan: BucketPlan): string {
  return `${JSON.stringify(renderLifecycleConfiguration(plan), null, 2)}\n`;
}

export function renderVersioningConfiguration(plan: BucketPlan): S3VersioningConfiguration {
  return { Status: plan.versioning ? "Enabled" : "Suspended" };
}
