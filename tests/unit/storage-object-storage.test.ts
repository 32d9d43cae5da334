/*
 * ObjectStorage through Pulumi's mock engine. The call mock throws on any invoke, so a data
 * source call slipping into the layer fails here. The MinIO variant is run against a runtime that
 * records the Workload and Job it is handed (the layer never talks to Docker or Kubernetes
 * itself), which is what the docker and kubernetes renderers receive.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { MockCallArgs, MockResourceArgs } from "@pulumi/pulumi/runtime/mocks";
import { beforeAll, describe, expect, it } from "vitest";
import { defaultBuckets } from "../../components/storage/buckets";
import { ObjectStorage } from "../../components/storage/object-storage";
import { minioWorkload } from "../../components/storage/minio-workload";
import { DeployedWorkload, Endpoint, Job, Runtime, ScheduledJob, Workload } from "../../components/runtime/workload";

interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const recorded: Recorded[] = [];
const generatedSecrets = new Set<string>();

function fakeValue(seed: string, length: number): string {
  return createHash("sha256").update(seed).digest("hex").slice(0, length).toUpperCase();
}

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args: MockResourceArgs) {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "random:index/randomPassword:RandomPassword") {
          state.result = fakeValue(`password:${args.name}`, Number(args.inputs.length));
          generatedSecrets.add(state.result as string);
        }
        if (args.type === "aws:iam/accessKey:AccessKey") {
          state.secret = `iam-secret-${fakeValue(args.name, 30)}`;
          generatedSecrets.add(state.secret as string);
        }
        if (args.type === "aws:s3/bucket:Bucket") state.arn = `arn:aws:s3:::${String(args.inputs.bucket)}`;
        return { id: args.type === "aws:iam/accessKey:AccessKey" ? `AKIA${fakeValue(args.name, 16)}` : `${args.name}-id`, state };
      },
      call(args: MockCallArgs) {
        throw new Error(`Mock not implemented: ${args.token}`);
      },
    },
    "fundament",
    "unit",
    false,
  );
});

function settled<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

function byType(type: string, prefix: string): Recorded[] {
  return recorded.filter((r) => r.type === type && r.name.startsWith(prefix));
}

function containsSecret(value: unknown): boolean {
  const text = JSON.stringify(value) ?? "";
  return [...generatedSecrets].some((secret) => text.includes(secret));
}

describe("provider s3", () => {
  let storage: ObjectStorage;
  beforeAll(async () => {
    storage = new ObjectStorage("objects", { provider: "s3", bucketPrefix: "fundament-prod", buckets: defaultBuckets(30), region: "eu-west-1", tags: { stack: "prod" } });
    await Promise.all([settled(storage.endpoint), ...storage.ready.map((r) => settled(r.urn)), settled(storage.backupWriter.secretKey)]);
  });

  it("names real buckets with the prefix and maps the logical names to them", async () => {
    expect(byType("aws:s3/bucket:Bucket", "objects-").map((b) => b.inputs.bucket)).toEqual(["fundament-prod-backups", "fundament-prod-media"]);
    expect(await settled(storage.buckets.backups!)).toBe("fundament-prod-backups");
    expect(await settled(storage.endpoint)).toBe("https://s3.eu-west-1.amazonaws.com");
  });

  it("names every child after the component, so two instances never collide", () => {
    const children = recorded.filter((r) => r.type.startsWith("aws:"));
    expect(children.length).toBeGreaterThanOrEqual(15);
    expect(children.filter((r) => !r.name.startsWith("objects-"))).toEqual([]);
  });

  it("blocks every kind of public access on every bucket", () => {
    const blocks = byType("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "objects-");
    expect(blocks.map((b) => b.inputs.bucket)).toEqual(["objects-backups-id", "objects-media-id"]);
    for (const block of blocks) {
      expect(block.inputs).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    }
  });

  it("encrypts every bucket with KMS and a bucket key, and enforces bucket-owner ownership", () => {
    const encryption = byType("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "objects-");
    expect(encryption).toHaveLength(2);
    for (const config of encryption) {
      expect(config.inputs.rules).toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }]);
    }
    const ownership = byType("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "objects-");
    expect(ownership.map((o) => o.inputs.rule)).toEqual([{ objectOwnership: "BucketOwnerEnforced" }, { objectOwnership: "BucketOwnerEnforced" }]);
  });

  it("turns versioning on and expires backups after the retention", () => {
    const versioning = byType("aws:s3/bucketVersioning:BucketVersioning", "objects-");
    expect(versioning.map((v) => [v.inputs.bucket, v.inputs.versioningConfiguration])).toEqual([
      ["objects-backups-id", { status: "Enabled" }],
      ["objects-media-id", { status: "Enabled" }],
    ]);
    const lifecycle = byType("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "objects-backups");
    expect(lifecycle).toHaveLength(1);
    expect(lifecycle[0]!.inputs.rules).toEqual([
      { id: "backups-retention", status: "Enabled", filter: { prefix: "" }, expiration: { days: 30 }, noncurrentVersionExpiration: { noncurrentDays: 30 } },
    ]);
  });

  it("refuses plain HTTP on every bucket", () => {
    const policies = byType("aws:s3/bucketPolicy:BucketPolicy", "objects-");
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      const document = JSON.parse(String(policy.inputs.policy)) as { Statement: { Effect: string; Condition: unknown }[] };
      expect(document.Statement[0]).toMatchObject({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    }
  });

  it("gives the backup writer a policy on the backups bucket only, and its keys as secrets", async () => {
    const [userPolicy] = byType("aws:iam/userPolicy:UserPolicy", "objects-backup-writer");
    const document = JSON.parse(String(userPolicy!.inputs.policy)) as { Statement: { Resource: string[] }[] };
    expect(new Set(document.Statement.flatMap((s) => s.Resource))).toEqual(new Set(["arn:aws:s3:::fundament-prod-backups", "arn:aws:s3:::fundament-prod-backups/*"]));
    expect(await pulumi.isSecret(storage.backupWriter.accessKey)).toBe(true);
    expect(await pulumi.isSecret(storage.backupWriter.secretKey)).toBe(true);
    expect(await settled(storage.backupWriter.secretKey)).toMatch(/^iam-secret-/);
  });

  it("has no secret in its plain outputs", async () => {
    for (const output of [storage.endpoint, ...Object.values(storage.buckets)]) {
      expect(await pulumi.isSecret(output)).toBe(false);
      expect(containsSecret(await settled(output))).toBe(false);
    }
    expect(containsSecret(storage.backupWriterPolicy)).toBe(false);
  });

  it("stops before creating anything when the arguments are wrong, naming every problem", () => {
    const before = recorded.length;
    expect(
      () =>
        new ObjectStorage("broken", {
          provider: "s3",
          bucketPrefix: "Prod_",
          buckets: [{ name: "media", versioning: true, expireDays: 0 }],
          region: "eu-west-1",
        }),
    ).toThrow(
      [
        "broken: invalid object storage arguments:",
        "fundament:storage.buckets[0].expireDays: must be at least 1 day (got 0)",
        'fundament:storage.buckets: must include a bucket named "backups" (the database backup job writes there)',
        'fundament:storage.bucketPrefix: must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (got "Prod_")',
      ].join("\n"),
    );
    expect(recorded.length).toBe(before);
  });

  it("refuses a prefix that would make the writer's IAM user name longer than IAM allows", () => {
    const prefix = "a".repeat(51);
    expect(() => new ObjectStorage("long", { provider: "s3", bucketPrefix: prefix, buckets: defaultBuckets(30), region: "eu-west-1" })).toThrow(
      `fundament:storage.bucketPrefix: too long for the IAM user "${prefix}-backup-writer" (65 characters, IAM allows 64; got "${prefix}")`,
    );
  });

  it("needs a region", () => {
    // @pulumi/aws falls back to these when aws:region is unset.
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    expect(() => new ObjectStorage("regionless", { provider: "s3", bucketPrefix: "p", buckets: defaultBuckets(30) })).toThrow(
      "fundament:storage.region: the s3 provider needs a region (set aws:region in the stack config)",
    );
  });
});

/** Keeps what the layer hands to the runtime; hosts resolve to the workload name, as on Docker. */
class RecordingRuntime implements Runtime {
  readonly target = "docker" as const;
  readonly deployed: Workload[] = [];
  readonly ran: Job[] = [];

  deploy(workload: Workload): DeployedWorkload {
    this.deployed.push(workload);
    return this.handle(workload.name, workload.ports);
  }

  run(job: Job): DeployedWorkload {
    this.ran.push(job);
    return this.handle(job.name, []);
  }

  schedule(job: ScheduledJob): DeployedWorkload {
    throw new Error(`object storage schedules nothing (got ${job.name})`);
  }

  private handle(name: string, ports: Workload["ports"]): DeployedWorkload {
    return {
      name,
      host: pulumi.output(name),
      resources: [],
      endpoint: (portName: string): pulumi.Output<Endpoint> => {
        const port = ports.find((p) => p.name === portName);
        if (!port) throw new Error(`${name} has no port ${portName}`);
        return pulumi.output({ host: name, port: port.port });
      },
    };
  }
}

describe("provider minio", () => {
  const runtime = new RecordingRuntime();
  let storage: ObjectStorage;
  let server: Workload;
  let job: Job;
  beforeAll(async () => {
    storage = new ObjectStorage("storage", {
      provider: "minio",
      runtime,
      image: "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z",
      clientImage: "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z",
      resources: { cpu: 1, memoryMiB: 1024 },
      storageGiB: 50,
      buckets: defaultBuckets(14),
    });
    await Promise.all([settled(storage.endpoint), settled(storage.backupWriter.secretKey), settled(storage.backupWriter.accessKey)]);
    [server] = runtime.deployed;
    [job] = runtime.ran;
  });

  it("deploys one MinIO server in backend and monitoring, publishing neither the API nor the console", () => {
    expect(runtime.deployed).toHaveLength(1);
    expect(server.zones).toEqual(["backend", "monitoring"]);
    expect(server.ports).toEqual([
      // Metrics live on the API port, so monitoring is offered the API. The console is an admin UI:
      // offered only in monitoring, where the gateway reaches admin UIs, and never to backend members.
      { name: "api", port: 9000, zones: ["backend", "monitoring"] },
      { name: "console", port: 9001, zones: ["monitoring"] },
    ]);
    expect(server.ports.some((port) => port.publish !== undefined)).toBe(false);
    expect(server.route).toBeUndefined();
  });

  it("checks liveness and readiness on MinIO's health endpoints and exposes cluster metrics", () => {
    expect(server.health.liveness).toMatchObject({ kind: "http", port: 9000, path: "/minio/health/live" });
    expect(server.health.readiness).toMatchObject({ kind: "http", port: 9000, path: "/minio/health/ready" });
    expect(server.metrics).toEqual({ port: 9000, path: "/minio/v2/metrics/cluster" });
    expect(server.env?.MINIO_PROMETHEUS_AUTH_TYPE).toBe("public");
    expect(server.storage).toEqual([{ name: "data", path: "/data", sizeGiB: 50 }]);
  });

  it("delivers the root credentials as secret files named by *_FILE variables, never as values", async () => {
    const env = server.env ?? {};
    const files = server.files ?? [];
    expect(files.find((f) => f.path === env.MINIO_ROOT_USER_FILE)?.secret).toBe(true);
    expect(files.find((f) => f.path === env.MINIO_ROOT_PASSWORD_FILE)?.secret).toBe(true);
    expect(Object.keys(env).filter((k) => /^MINIO_ROOT_(USER|PASSWORD)$/.test(k))).toEqual([]);
    for (const file of files) expect(await pulumi.isSecret(pulumi.output(file.content))).toBe(true);
    for (const value of Object.values(env)) expect(containsSecret(await settled(pulumi.output(value)))).toBe(false);
  });

  it("runs one bucket job with the mc image after the server, reaching it in the backend zone", async () => {
    expect(runtime.ran).toHaveLength(1);
    expect(job.image).toBe("quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z");
    expect(job.zones).toEqual(["backend"]);
    expect(job.dependsOn?.map((d) => d.name)).toEqual(["storage"]);
    expect(await settled(pulumi.output(job.env?.MINIO_ENDPOINT ?? ""))).toBe("storage:9000");
    expect(job.command).toEqual(["/bin/sh", "/etc/fundament/storage/setup-buckets.sh"]);
  });

  it("gives the job the ILM files of both buckets and the writer policy in plain files, and every credential as a secret file", async () => {
    const files = job.files ?? [];
    const plain = files.filter((f) => !f.secret);
    const secret = files.filter((f) => f.secret);
    expect(plain.map((f) => f.path).sort()).toEqual([
      "/etc/fundament/storage/backup-writer-policy.json",
      "/etc/fundament/storage/lifecycle-backups.json",
      "/etc/fundament/storage/lifecycle-media.json",
      "/etc/fundament/storage/setup-buckets.sh",
    ]);
    for (const file of plain) expect(containsSecret(await settled(pulumi.output(file.content)))).toBe(false);
    expect(secret).toHaveLength(4);
    for (const file of secret) {
      expect(await pulumi.isSecret(pulumi.output(file.content))).toBe(true);
      expect(containsSecret(await settled(pulumi.output(file.content)))).toBe(true);
    }
    const lifecycle = JSON.parse(String(plain.find((f) => f.path.endsWith("lifecycle-backups.json"))!.content)) as unknown;
    expect(lifecycle).toEqual({
      Rules: [{ ID: "backups-retention", Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: 14 }, NoncurrentVersionExpiration: { NoncurrentDays: 14 } }],
    });
  });

  it("outputs the in-cluster endpoint, the bucket names and the writer keys as secrets", async () => {
    expect(await settled(storage.endpoint)).toBe("http://storage:9000");
    expect(storage.region).toBe("us-east-1");
    expect(await settled(storage.buckets.media!)).toBe("media");
    expect(await pulumi.isSecret(storage.backupWriter.accessKey)).toBe(true);
    expect(await pulumi.isSecret(storage.backupWriter.secretKey)).toBe(true);
    expect(await settled(storage.backupWriter.accessKey)).toMatch(/^[A-Z0-9]{20}$/);
    expect(containsSecret(await settled(storage.endpoint))).toBe(false);
  });

  it("runs as root only on Docker, where the image's root-owned /data volume leaves no other way, and as uid 1000 on Kubernetes", () => {
    expect(server.user).toBeUndefined();
    expect(server.readOnlyRootFilesystem).toBe(true);
    const onKubernetes = minioWorkload("storage", {
      target: "kubernetes",
      image: "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z",
      resources: { cpu: 1, memoryMiB: 1024 },
      storageGiB: 50,
      rootUser: "u",
      rootPassword: "p",
    });
    expect(onKubernetes.user).toEqual({ uid: 1000, gid: 1000 });
    expect(job.user).toEqual({ uid: 1000, gid: 1000 });
  });

  it("generates the credentials with RandomPassword (encrypted in state), one per secret", () => {
    const passwords = byType("random:index/randomPassword:RandomPassword", "storage-");
    expect(passwords.map((p) => p.name).sort()).toEqual([
      "storage-backup-writer-access-key",
      "storage-backup-writer-secret-key",
      "storage-root-password",
      "storage-root-user",
    ]);
    expect(recorded.filter((r) => r.type === "random:index/randomString:RandomString")).toEqual([]);
  });
});
