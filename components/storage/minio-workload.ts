import * as pulumi from "@pulumi/pulumi";
import { adminRoute, DeployedWorkload, Job, Runtime, Workload, WorkloadResources } from "../runtime/workload";
import { BACKUPS_BUCKET } from "./buckets";
import { BucketPlan } from "./lifecycle-plan";
import { BucketSetupFiles, ENDPOINT_VARIABLE, renderBucketSetupScript } from "./mc-script";
import { renderIlmJson } from "./s3-configuration";
import { renderBackupWriterPolicy } from "./backup-writer-policy";

export const MINIO_API_PORT = 9000;
export const MINIO_CONSOLE_PORT = 9001;
export const MINIO_DATA_PATH = "/data";
export const MINIO_METRICS_PATH = "/minio/v2/metrics/cluster";
/** MinIO's region when none is configured; clients signing requests must use it. */
export const MINIO_REGION = "us-east-1";
export const BACKUP_WRITER_POLICY_NAME = "backups-writer";

const SECRETS_DIR = "/run/secrets/minio";
const SETUP_DIR = "/etc/fundament/storage";
/** The uid the MinIO and mc images document for non-root runs. */
const MINIO_USER = { uid: 1000, gid: 1000 };

export interface MinioServerInput {
  target: Runtime["target"];
  image: string;
  resources: WorkloadResources;
  storageGiB: number;
  rootUser: pulumi.Input<string>;
  rootPassword: pulumi.Input<string>;
  /** Route the console through the gateway as minio.<consoleDomain>. */
  consoleDomain?: string;
}

/**
 * The MinIO server. Root credentials are files read through MINIO_ROOT_USER_FILE and
 * MINIO_ROOT_PASSWORD_FILE, which the server binary itself resolves (an absolute path, or a
 * name under /run/secrets), so no credential is an environment value.
 */
export function minioWorkload(name: string, input: MinioServerInput): Workload {
  return {
    name,
    image: input.image,
    args: [
      "minio", "server", MINIO_DATA_PATH,
      "--address", `:${MINIO_API_PORT}`,
      "--console-address", `:${MINIO_CONSOLE_PORT}`,
      // MinIO creates its certs dir at start; the default under $HOME is on the read-only root.
      "--certs-dir", "/tmp/minio-certs",
    ],
    // Metrics are served on the API port, so the server joins monitoring for Prometheus; the
    // S3 API there still needs credentials.
    zones: ["backend", "monitoring"],
    // Neither port is published: clients are in-cluster, and the console is reached through the
    // gateway, which sits in monitoring (the zone admin UIs are offered in), never in backend.
    ports: [
      // MinIO serves its metrics only on the API port, so monitoring reaches the API (which still
      // demands credentials for everything but the metrics path): the one data port in monitoring.
      { name: "api", port: MINIO_API_PORT, zones: ["backend", "monitoring"] },
      { name: "console", port: MINIO_CONSOLE_PORT, zones: ["monitoring"], ...(input.consoleDomain ? { publish: "gateway" as const } : {}) },
    ],
    env: {
      MINIO_ROOT_USER_FILE: `${SECRETS_DIR}/root-user`,
      MINIO_ROOT_PASSWORD_FILE: `${SECRETS_DIR}/root-password`,
      // Public metrics, not a bearer token: the token would be a long-lived JWT signed with the
      // root secret that Prometheus has to hold, and Workload.metrics carries no credentials.
      // The API port is reachable only from the backend and monitoring zones, and the cluster
      // metrics hold counts and capacities, not object data.
      MINIO_PROMETHEUS_AUTH_TYPE: "public",
      // Images are pinned; the server must not replace its own binary.
      MINIO_UPDATE: "off",
    },
    files: [
      { path: `${SECRETS_DIR}/root-user`, content: input.rootUser, secret: true, mode: 0o400 },
      { path: `${SECRETS_DIR}/root-password`, content: input.rootPassword, secret: true, mode: 0o400 },
    ],
    health: {
      startup: { kind: "http", port: MINIO_API_PORT, path: "/minio/health/live", periodSeconds: 2, failureThreshold: 60 },
      // ready answers 503 until the drive has write quorum, so traffic waits for a usable server.
      readiness: { kind: "http", port: MINIO_API_PORT, path: "/minio/health/ready", periodSeconds: 10, failureThreshold: 3 },
      liveness: { kind: "http", port: MINIO_API_PORT, path: "/minio/health/live", periodSeconds: 10, failureThreshold: 3 },
    },
    resources: input.resources,
    storage: [{ name: "data", path: MINIO_DATA_PATH, sizeGiB: input.storageGiB }],
    // MinIO finishes in-flight requests on SIGTERM; large multipart parts need some seconds.
    stopGracePeriodSeconds: 30,
    metrics: { port: MINIO_API_PORT, path: MINIO_METRICS_PATH },
    ...(input.consoleDomain ? { route: adminRoute("minio", input.consoleDomain, "console") } : {}),
    // The image declares VOLUME /data owned by root and its entrypoint neither chowns nor drops
    // privileges, so a fresh Docker volume is writable only by root: on Docker the server runs as
    // root, with every capability dropped and a read-only root filesystem. Kubernetes makes the
    // volume group-writable through fsGroup, so there it runs as the image's documented uid.
    ...(input.target === "kubernetes" ? { user: MINIO_USER } : {}),
    readOnlyRootFilesystem: true,
  };
}

export interface BucketJobInput {
  clientImage: string;
  plans: BucketPlan[];
  server: DeployedWorkload;
  rootUser: pulumi.Input<string>;
  rootPassword: pulumi.Input<string>;
  writerAccessKey: pulumi.Input<string>;
  writerSecretKey: pulumi.Input<string>;
}

export const BUCKET_SETUP_FILES: BucketSetupFiles = {
  rootUser: `${SECRETS_DIR}/root-user`,
  rootPassword: `${SECRETS_DIR}/root-password`,
  writerAccessKey: `${SECRETS_DIR}/backup-writer-access-key`,
  writerSecretKey: `${SECRETS_DIR}/backup-writer-secret-key`,
  writerPolicy: `${SETUP_DIR}/backup-writer-policy.json`,
  lifecycle: (bucket: string) => `${SETUP_DIR}/lifecycle-${bucket}.json`,
};

export const BUCKET_SETUP_SCRIPT_PATH = `${SETUP_DIR}/setup-buckets.sh`;

/** The one-shot job that creates the buckets and the backup writer through mc. */
export function bucketSetupJob(name: string, input: BucketJobInput): Job {
  const files = BUCKET_SETUP_FILES;
  const script = renderBucketSetupScript({
    plans: input.plans,
    files,
    writerPolicyName: BACKUP_WRITER_POLICY_NAME,
    readyAttempts: 60,
  });
  return {
    name,
    image: input.clientImage,
    command: ["/bin/sh", BUCKET_SETUP_SCRIPT_PATH],
    zones: ["backend"],
    env: {
      [ENDPOINT_VARIABLE]: input.server.endpoint("api").apply((endpoint) => `${endpoint.host}:${endpoint.port}`),
      // mc keeps its config (aliases, session) here; /tmp is the job's only writable place.
      MC_CONFIG_DIR: "/tmp/.mc",
    },
    files: [
      { path: BUCKET_SETUP_SCRIPT_PATH, content: script, mode: 0o555 },
      { path: files.writerPolicy, content: renderBackupWriterPolicy(BACKUPS_BUCKET) },
      ...input.plans
        .filter((plan) => plan.rules.length > 0)
        .map((plan) => ({ path: files.lifecycle(plan.name), content: renderIlmJson(plan) })),
      { path: files.rootUser, content: input.rootUser, secret: true, mode: 0o400 },
      { path: files.rootPassword, content: input.rootPassword, secret: true, mode: 0o400 },
      { path: files.writerAccessKey, content: input.writerAccessKey, secret: true, mode: 0o400 },
      { path: files.writerSecretKey, content: input.writerSecretKey, secret: true, mode: 0o400 },
    ],
    resources: { cpu: 0.1, memoryMiB: 128 },
    stopGracePeriodSeconds: 10,
    user: MINIO_USER,
    readOnlyRootFilesystem: true,
    dependsOn: [input.server],
    backoffLimit: 3,
  };
}
