import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BACKUPS_BUCKET } from "./buckets";
import { awsLifecycleRules, s3BucketName } from "./aws-bucket-inputs";
import { renderBackupWriterPolicy } from "./backup-writer-policy";
import { BucketPlan, planBuckets } from "./lifecycle-plan";
import { ObjectStorageOutputs, S3StorageArgs } from "./object-storage-types";

/** The backup writer's IAM user is `<bucketPrefix>-backup-writer`. */
export const BACKUP_WRITER_SUFFIX = "-backup-writer";

/** Refuses every request that is not over TLS; public access is blocked separately. */
export function tlsOnlyBucketPolicy(bucketName: string): string {
  const arn = `arn:aws:s3:::${bucketName}`;
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [arn, `${arn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ],
  });
}

function s3Bucket(parent: pulumi.Resource, name: string, plan: BucketPlan, args: S3StorageArgs): { bucket: aws.s3.Bucket; ready: pulumi.Resource[] } {
  const child = `${name}-${plan.name}`;
  const opts = { parent };
  const realName = s3BucketName(args.bucketPrefix, plan.name);
  const bucket = new aws.s3.Bucket(child, { bucket: realName, tags: { ...args.tags, "fundament:bucket": plan.name } }, opts);
  const ownership = new aws.s3.BucketOwnershipControls(
    `${child}-ownership`,
    { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
    opts,
  );
  const publicAccess = new aws.s3.BucketPublicAccessBlock(
    `${child}-public-access`,
    { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
    opts,
  );
  const encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
    `${child}-encryption`,
    {
      bucket: bucket.id,
      rules: [
        {
          applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", ...(args.kmsKeyId ? { kmsMasterKeyId: args.kmsKeyId } : {}) },
          // A bucket key cuts the KMS requests (and their cost) of every object write to one per bucket key period.
          bucketKeyEnabled: true,
        },
      ],
    },
    opts,
  );
  const tlsOnly = new aws.s3.BucketPolicy(
    `${child}-tls-only`,
    { bucket: bucket.id, policy: tlsOnlyBucketPolicy(realName) },
    // The public access block must exist first, or a policy race could briefly leave it unset.
    { parent, dependsOn: [publicAccess] },
  );
  const ready: pulumi.Resource[] = [bucket, ownership, publicAccess, encryption, tlsOnly];
  // An unversioned bucket gets no versioning resource: deleting one (when versioning is turned
  // off later) suspends versioning, which is what "off" means for a bucket that had it.
  const versioning = plan.versioning
    ? new aws.s3.BucketVersioning(`${child}-versioning`, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, opts)
    : undefined;
  if (versioning) ready.push(versioning);
  const rules = awsLifecycleRules(plan);
  if (rules.length > 0) {
    // Noncurrent-version rules mean nothing until versioning is on, so the lifecycle follows it.
    ready.push(
      new aws.s3.BucketLifecycleConfiguration(`${child}-lifecycle`, { bucket: bucket.id, rules }, { parent, dependsOn: versioning ? [versioning] : [] }),
    );
  }
  return { bucket, ready };
}

export function buildS3(parent: pulumi.Resource, name: string, args: S3StorageArgs, region: string): ObjectStorageOutputs {
  const plans = planBuckets(args.buckets);
  const built = plans.map((plan) => ({ plan, ...s3Bucket(parent, name, plan, args) }));
  const policy = renderBackupWriterPolicy(s3BucketName(args.bucketPrefix, BACKUPS_BUCKET));
  const writer = new aws.iam.User(`${name}-backup-writer`, { name: `${args.bucketPrefix}${BACKUP_WRITER_SUFFIX}`, tags: args.tags }, { parent });
  const writerPolicy = new aws.iam.UserPolicy(`${name}-backup-writer`, { user: writer.name, policy }, { parent });
  const key = new aws.iam.AccessKey(`${name}-backup-writer`, { user: writer.name }, { parent, dependsOn: [writerPolicy] });
  return {
    endpoint: pulumi.output(`https://s3.${region}.amazonaws.com`),
    region,
    buckets: Object.fromEntries(built.map(({ plan, bucket }) => [plan.name, bucket.bucket])),
    backupWriter: { accessKey: pulumi.secret(key.id), secretKey: pulumi.secret(key.secret) },
    backupWriterPolicy: policy,
    ready: [...built.flatMap(({ ready }) => ready), writerPolicy, key],
  };
}
