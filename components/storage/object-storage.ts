import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { assertValidBuckets, MAX_BUCKET_NAME_LENGTH, validateBuckets } from "./buckets";
import { validateBucketPrefix } from "./aws-bucket-inputs";
import { buildMinio } from "./minio";
import { ObjectStorageArgs, ObjectStorageOutputs } from "./object-storage-types";
import { BACKUP_WRITER_SUFFIX, buildS3 } from "./s3-storage";

const KEY = "fundament:storage";

function argumentProblems(args: ObjectStorageArgs, region: string | undefined): string[] {
  const problems = validateBuckets(args.buckets, `${KEY}.buckets`);
  if (args.provider === "minio") {
    if (!Number.isInteger(args.storageGiB) || args.storageGiB < 1) {
      problems.push(`${KEY}.storageGiB: must be a whole number of GiB, at least 1 (got ${args.storageGiB})`);
    }
    for (const field of ["image", "clientImage"] as const) {
      if (args[field].trim() === "") problems.push(`${KEY}.${field}: must name a pinned image (got "")`);
    }
  } else {
    const longest = Array.isArray(args.buckets)
      ? Math.max(0, ...args.buckets.map((b) => (typeof b?.name === "string" ? b.name.length : 0)))
      : MAX_BUCKET_NAME_LENGTH;
    problems.push(...validateBucketPrefix(args.bucketPrefix, longest, `${KEY}.bucketPrefix`));
    const writerName = `${args.bucketPrefix}${BACKUP_WRITER_SUFFIX}`;
    if (writerName.length > 64) {
      problems.push(`${KEY}.bucketPrefix: too long for the IAM user "${writerName}" (${writerName.length} characters, IAM allows 64; got ${JSON.stringify(args.bucketPrefix)})`);
    }
    if (!region) problems.push(`${KEY}.region: the s3 provider needs a region (set aws:region in the stack config)`);
  }
  return problems;
}

/**
 * Object storage: a MinIO workload (dev) or S3 buckets (prod), both from the one bucket model.
 * One component for both so the platform wires a single type and reads the same outputs.
 */
export class ObjectStorage extends pulumi.ComponentResource implements ObjectStorageOutputs {
  readonly endpoint: pulumi.Output<string>;
  readonly region: string;
  readonly buckets: Record<string, pulumi.Output<string>>;
  readonly backupWriter: { accessKey: pulumi.Output<string>; secretKey: pulumi.Output<string> };
  readonly backupWriterPolicy: string;
  readonly ready: pulumi.Resource[];

  constructor(name: string, args: ObjectStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    const region = args.provider === "s3" ? (args.region ?? aws.config.region) : undefined;
    const problems = argumentProblems(args, region);
    if (problems.length > 0) throw new Error(`${name}: invalid object storage arguments:\n${problems.join("\n")}`);
    assertValidBuckets(args.buckets, `${KEY}.buckets`);
    super("fundament:storage:ObjectStorage", name, {}, opts);

    const outputs = args.provider === "minio" ? buildMinio(this, name, args) : buildS3(this, name, args, region as string);
    this.endpoint = outputs.endpoint;
    this.region = outputs.region;
    this.buckets = outputs.buckets;
    this.backupWriter = outputs.backupWriter;
    this.backupWriterPolicy = outputs.backupWriterPolicy;
    this.ready = outputs.ready;
    this.registerOutputs({
      endpoint: this.endpoint,
      region: this.region,
      buckets: this.buckets,
      backupWriterAccessKey: this.backupWriter.accessKey,
      backupWriterSecretKey: this.backupWriter.secretKey,
    });
  }
}
