import * as aws from "@pulumi/aws";
import { BucketPlan } from "./lifecycle-plan";
import { renderLifecycleConfiguration } from "./s3-configuration";

type AwsLifecycleRule = aws.types.input.s3.BucketLifecycleConfigurationRule;

/**
 * The same lifecycle as the MinIO ILM file, as @pulumi/aws 7 BucketLifecycleConfiguration rules:
 * rendered from the S3-shaped configuration so the two providers cannot drift apart.
 */
export function awsLifecycleRules(plan: BucketPlan): AwsLifecycleRule[] {
  return renderLifecycleConfiguration(plan).Rules.map((rule) => ({
    id: rule.ID,
    status: rule.Status,
    filter: { prefix: rule.Filter.Prefix },
    ...(rule.Expiration ? { expiration: { days: rule.Expiration.Days } } : {}),
    ...(rule.NoncurrentVersionExpiration
      ? { noncurrentVersionExpiration: { noncurrentDays: rule.NoncurrentVersionExpiration.NoncurrentDays } }
      : {}),
  }));
}

/** Real S3 bucket name: names are global, so the stack's prefix comes first. */
export function s3BucketName(bucketPrefix: string, logicalName: string): string {
  return `${bucketPrefix}-${logicalName}`;
}

const BUCKET_PREFIX = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** Problems of a bucket prefix against S3's naming rules, given the longest logical name it precedes. */
export function validateBucketPrefix(bucketPrefix: string, longestLogicalName: number, key: string): string[] {
  const problems: string[] = [];
  if (!BUCKET_PREFIX.test(bucketPrefix)) {
    problems.push(`${key}: must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (got ${JSON.stringify(bucketPrefix)})`);
  }
  if (bucketPrefix.startsWith("xn--") || bucketPrefix.startsWith("sthree-")) {
    problems.push(`${key}: S3 reserves the prefixes xn-- and sthree- (got ${JSON.stringify(bucketPrefix)})`);
  }
  const longest = bucketPrefix.length + 1 + longestLogicalName;
  if (longest > 63) {
    problems.push(`${key}: too long, "${bucketPrefix}-" plus the longest bucket name is ${longest} characters and S3 allows 63 (got ${JSON.stringify(bucketPrefix)})`);
  }
  return problems;
}
