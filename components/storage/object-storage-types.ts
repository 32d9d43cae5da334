import * as pulumi from "@pulumi/pulumi";
import { Runtime, WorkloadResources } from "../runtime/workload";
import { BucketSpec } from "./buckets";

export interface MinioStorageArgs {
  provider: "minio";
  /** Routes the console through the gateway at console host `minio.<domain>` (basic auth in front of its own login). */
  consoleDomain?: string;
  runtime: Runtime;
  /** Pinned MinIO server image (quay.io; see minio.ts for why not Docker Hub). */
  image: string;
  /** Pinned mc image for the bucket job. */
  clientImage: string;
  resources: WorkloadResources;
  storageGiB: number;
  buckets: BucketSpec[];
}

export interface S3StorageArgs {
  provider: "s3";
  /** Bucket names are global: every real name is `<bucketPrefix>-<logical name>`. */
  bucketPrefix: string;
  buckets: BucketSpec[];
  tags?: Record<string, string>;
  /** Defaults to the aws:region of the stack. */
  region?: string;
  /** Customer-managed KMS key for server-side encryption; the AWS-managed aws/s3 key otherwise. */
  kmsKeyId?: pulumi.Input<string>;
}

export type ObjectStorageArgs = MinioStorageArgs | S3StorageArgs;

export interface ObjectStorageOutputs {
  /** S3 API base URL. */
  endpoint: pulumi.Output<string>;
  region: string;
  /** Logical name -> real bucket name. */
  buckets: Record<string, pulumi.Output<string>>;
  /** Keys of the database backup job, limited to the backups bucket. Secrets. */
  backupWriter: { accessKey: pulumi.Output<string>; secretKey: pulumi.Output<string> };
  /** The backup writer's IAM policy document (JSON), e.g. to attach to a role instead of using keys. */
  backupWriterPolicy: string;
  /** What a dependant (the backup job) waits for: buckets exist and the writer can log in. */
  ready: pulumi.Resource[];
}
