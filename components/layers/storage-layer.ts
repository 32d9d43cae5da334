import { Runtime } from "../runtime/workload";
import { defaultBuckets, ObjectStorage } from "../storage";
import { childOf, LayerScope, sizeOf } from "./layer-scope";

/** Object storage: MinIO on the runtime, or S3 buckets; the backups bucket is always there. */
export function wireStorage(scope: LayerScope, below: { runtime: Runtime }): ObjectStorage {
  const { config } = scope;
  const buckets = defaultBuckets(config.storage.backupRetentionDays);
  return new ObjectStorage(
    config.storage.provider === "minio" ? "minio" : "object-storage",
    config.storage.provider === "minio"
      ? { provider: "minio", runtime: below.runtime, image: config.storage.image, clientImage: config.storage.clientImage, resources: sizeOf(config.storage), storageGiB: config.storage.storageGiB, buckets, consoleDomain: config.domain }
      : { provider: "s3", bucketPrefix: `fundament-${config.environment}`, buckets },
    childOf(scope),
  );
}
