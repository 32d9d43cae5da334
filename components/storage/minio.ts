import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { BACKUPS_BUCKET } from "./buckets";
import { planBuckets } from "./lifecycle-plan";
import { bucketSetupJob, MINIO_REGION, minioWorkload } from "./minio-workload";
import { MinioStorageArgs, ObjectStorageOutputs } from "./object-storage-types";
import { renderBackupWriterPolicy } from "./backup-writer-policy";

/*
 * MinIO distribution, as of this writing: the community edition became source-only in October
 * 2025 (no image was published for the RELEASE.2025-10-15 security fix), the GitHub project went
 * maintenance-only in December 2025, and in September 2026 Docker Hub dropped minio/minio and
 * minio/mc. quay.io/minio still serves the last images: server RELEASE.2025-09-07T16-13-09Z
 * (the last multi-arch one) and mc RELEASE.2025-08-13T08-35-41Z. Both are pinned by default and
 * overridable in stack config (fundament:storage.image / clientImage), e.g. with a
 * self-built image of a later source release or a maintained fork.
 */

/**
 * Access keys look like AWS ones (20 upper-case characters), which every S3 client accepts.
 * RandomPassword, not RandomString: only its result is kept encrypted in the state.
 */
function accessKey(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  const key = new random.RandomPassword(name, { length: 20, special: false, lower: false, upper: true, numeric: true }, { parent });
  return pulumi.secret(key.result);
}

function secretKey(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  // Alphanumeric: the bucket job puts credentials into MC_HOST_<alias> URLs without escaping.
  const password = new random.RandomPassword(name, { length: 40, special: false }, { parent });
  return pulumi.secret(password.result);
}

export function buildMinio(parent: pulumi.Resource, name: string, args: MinioStorageArgs): ObjectStorageOutputs {
  const rootUser = accessKey(`${name}-root-user`, parent);
  const rootPassword = secretKey(`${name}-root-password`, parent);
  const writerAccessKey = accessKey(`${name}-backup-writer-access-key`, parent);
  const writerSecretKey = secretKey(`${name}-backup-writer-secret-key`, parent);

  const server = args.runtime.deploy(
    minioWorkload(name, { target: args.runtime.target, image: args.image, resources: args.resources, storageGiB: args.storageGiB, rootUser, rootPassword, consoleDomain: args.consoleDomain }),
    { parent },
  );
  const setup = args.runtime.run(
    bucketSetupJob(`${name}-buckets`, {
      clientImage: args.clientImage,
      plans: planBuckets(args.buckets),
      server,
      rootUser,
      rootPassword,
      writerAccessKey,
      writerSecretKey,
    }),
    { parent },
  );

  const endpoint = server.endpoint("api").apply((api) => `http://${api.host}:${api.port}`);
  return {
    endpoint,
    region: MINIO_REGION,
    buckets: Object.fromEntries(args.buckets.map((bucket) => [bucket.name, pulumi.output(bucket.name)])),
    backupWriter: { accessKey: writerAccessKey, secretKey: writerSecretKey },
    backupWriterPolicy: renderBackupWriterPolicy(BACKUPS_BUCKET),
    ready: [...server.resources, ...setup.resources],
  };
}
