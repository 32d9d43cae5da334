/*
 * MinIO has no server package on this machine, so the rendered bucket configuration is checked
 * against the S3 API shapes it targets, taken from a maintained source: the Smithy schemas that
 * @aws-sdk/client-s3 (v3) ships for its own serializer. The same SDK then serializes the
 * configuration to the PutBucketLifecycleConfiguration / PutBucketVersioning XML bodies.
 * MinIO's own acceptance rules (internal/bucket/lifecycle/rule.go and filter.go) are checked on top.
 */
import {
  BucketLifecycleConfiguration$,
  BucketVersioningStatus,
  ExpirationStatus,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  S3Client,
  VersioningConfiguration$,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { BucketSpec, defaultBuckets } from "../../components/storage/buckets";
import { backupWriterPolicy } from "../../components/storage/backup-writer-policy";
import { planBuckets } from "../../components/storage/lifecycle-plan";
import { renderIlmJson, renderVersioningConfiguration, S3LifecycleConfiguration } from "../../components/storage/s3-configuration";

/* A reader of the SDK's static schema tuples: [3, namespace, name, traits, memberNames, memberSchemas, requiredCount]
 * for structures, [1, namespace, name, traits, member] for lists, and small numbers for simple types. */
type SchemaRef = unknown;
const STRUCTURE = 3;
const LIST = 1;
const SIMPLE: Record<number, string> = { 0: "string", 1: "number", 2: "boolean", 4: "timestamp", 5: "timestamp", 6: "timestamp", 7: "timestamp", 21: "blob" };

function resolve(ref: SchemaRef): unknown {
  let current = ref;
  for (;;) {
    if (typeof current === "function") current = (current as () => unknown)();
    else if (Array.isArray(current) && current.length === 2 && typeof current[1] !== "string") current = current[0];
    else return current;
  }
}

function shapeProblems(value: unknown, ref: SchemaRef, path: string): string[] {
  const schema = resolve(ref);
  if (typeof schema === "number") {
    if (schema >= 64) {
      if (!Array.isArray(value)) return [`${path}: expected a list (got ${typeof value})`];
      return value.flatMap((item, i) => shapeProblems(item, schema & 63, `${path}[${i}]`));
    }
    const kind = SIMPLE[schema];
    if (kind === "string" && typeof value !== "string") return [`${path}: expected a string (got ${JSON.stringify(value)})`];
    if (kind === "number" && !(typeof value === "number" && Number.isFinite(value))) return [`${path}: expected a number (got ${JSON.stringify(value)})`];
    if (kind === "boolean" && typeof value !== "boolean") return [`${path}: expected a boolean (got ${JSON.stringify(value)})`];
    return [];
  }
  if (!Array.isArray(schema)) throw new Error(`${path}: unreadable schema ${String(schema)}`);
  if (schema[0] === LIST) {
    if (!Array.isArray(value)) return [`${path}: expected a list (got ${typeof value})`];
    return value.flatMap((item, i) => shapeProblems(item, schema[4], `${path}[${i}]`));
  }
  if (schema[0] !== STRUCTURE) throw new Error(`${path}: unsupported schema kind ${String(schema[0])}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${path}: expected a ${String(schema[2])} structure`];
  const names = schema[4] as string[];
  const members = schema[5] as SchemaRef[];
  const required = typeof schema[6] === "number" ? schema[6] : 0;
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(record)) {
    const index = names.indexOf(key);
    if (index < 0) problems.push(`${path}.${key}: not a member of ${String(schema[2])} (members: ${names.join(", ")})`);
    else if (record[key] !== undefined) problems.push(...shapeProblems(record[key], members[index], `${path}.${key}`));
  }
  names.slice(0, required).forEach((name) => {
    if (record[name] === undefined) problems.push(`${path}.${name}: required by ${String(schema[2])}`);
  });
  return problems;
}

/** MinIO rejects what S3's schema allows in a few places; these are its checks, from its source. */
function minioLifecycleProblems(configuration: S3LifecycleConfiguration): string[] {
  return configuration.Rules.flatMap((rule, i) => {
    const at = `Rules[${i}]`;
    const problems: string[] = [];
    if (rule.ID.length > 255) problems.push(`${at}.ID: longer than 255 characters`);
    if (rule.Status !== "Enabled" && rule.Status !== "Disabled") problems.push(`${at}.Status: not Enabled or Disabled`);
    if (rule.Filter === undefined) problems.push(`${at}: has neither Filter nor Prefix`);
    if (!rule.Expiration && !rule.NoncurrentVersionExpiration) problems.push(`${at}: has no action`);
    if (rule.Expiration && !(Number.isInteger(rule.Expiration.Days) && rule.Expiration.Days > 0)) problems.push(`${at}.Expiration.Days: not a positive integer`);
    if (rule.NoncurrentVersionExpiration && !(Number.isInteger(rule.NoncurrentVersionExpiration.NoncurrentDays) && rule.NoncurrentVersionExpiration.NoncurrentDays > 0)) {
      problems.push(`${at}.NoncurrentVersionExpiration.NoncurrentDays: not a positive integer`);
    }
    return problems;
  });
}

class CapturedRequest extends Error {
  constructor(readonly body: string, readonly query: Record<string, unknown>) {
    super("request captured before sending");
  }
}

/** An S3 client that serializes and signs a request, then stops before the network. */
function capturingClient(): S3Client {
  const client = new S3Client({ region: "eu-west-1", credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-a-secret" } });
  client.middlewareStack.add(
    () => async (args) => {
      const request = args.request as { body: string; query: Record<string, unknown> };
      throw new CapturedRequest(request.body, request.query);
    },
    { step: "finalizeRequest", priority: "low", name: "captureRequest" },
  );
  return client;
}

async function captured(send: () => Promise<unknown>): Promise<CapturedRequest> {
  try {
    await send();
  } catch (error) {
    if (error instanceof CapturedRequest) return error;
    throw error;
  }
  throw new Error("the request was sent");
}

const configurations: { what: string; buckets: BucketSpec[] }[] = [
  { what: "the default buckets", buckets: defaultBuckets(30) },
  { what: "a bucket expiring current versions only", buckets: [{ name: "scratch", versioning: false, expireDays: 1 }] },
  { what: "a bucket expiring noncurrent versions only", buckets: [{ name: "models", versioning: true, noncurrentExpireDays: 3650 }] },
];

describe("rendered lifecycle (the ILM file mc imports) against the S3 LifecycleConfiguration shape", () => {
  it.each(configurations)("$what", ({ buckets }) => {
    for (const plan of planBuckets(buckets)) {
      const ilm = JSON.parse(renderIlmJson(plan)) as S3LifecycleConfiguration;
      expect(shapeProblems(ilm, BucketLifecycleConfiguration$, "LifecycleConfiguration")).toEqual([]);
      expect(ilm.Rules.every((rule) => Object.values(ExpirationStatus).includes(rule.Status))).toBe(true);
      expect(minioLifecycleProblems(ilm)).toEqual([]);
    }
  });

  it("flags a configuration S3 would not accept, so the check above can fail", () => {
    const broken = { Rules: [{ ID: "x", Filter: { Prefix: "" }, Expiration: { Day: 3 }, NoncurrentVersionExpiration: { NoncurrentDays: "3" } }] };
    expect(shapeProblems(broken, BucketLifecycleConfiguration$, "LifecycleConfiguration")).toEqual([
      "LifecycleConfiguration.Rules[0].Expiration.Day: not a member of LifecycleExpiration (members: Date, Days, ExpiredObjectDeleteMarker)",
      'LifecycleConfiguration.Rules[0].NoncurrentVersionExpiration.NoncurrentDays: expected a number (got "3")',
      "LifecycleConfiguration.Rules[0].Status: required by LifecycleRule",
    ]);
  });

  it("serializes through the AWS SDK to the PutBucketLifecycleConfiguration body S3 and MinIO parse", async () => {
    const [backups] = planBuckets(defaultBuckets(30));
    const configuration = JSON.parse(renderIlmJson(backups!)) as S3LifecycleConfiguration;
    const request = await captured(() =>
      capturingClient().send(new PutBucketLifecycleConfigurationCommand({ Bucket: "backups", LifecycleConfiguration: configuration })),
    );
    expect(request.query).toEqual({ lifecycle: "" });
    expect(request.body).toContain(
      "<Rule><Status>Enabled</Status><Expiration><Days>30</Days></Expiration><ID>backups-retention</ID>" +
        "<Filter><Prefix></Prefix></Filter><NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays></NoncurrentVersionExpiration></Rule>",
    );
  });
});

describe("rendered versioning against the S3 VersioningConfiguration shape", () => {
  it.each([true, false])("versioning %s", async (versioning) => {
    const [plan] = planBuckets([{ name: "backups", versioning }]);
    const configuration = renderVersioningConfiguration(plan!);
    expect(shapeProblems(configuration, VersioningConfiguration$, "VersioningConfiguration")).toEqual([]);
    expect(Object.values(BucketVersioningStatus)).toContain(configuration.Status);
    const request = await captured(() => capturingClient().send(new PutBucketVersioningCommand({ Bucket: "backups", VersioningConfiguration: configuration })));
    expect(request.body).toContain(`<Status>${versioning ? "Enabled" : "Suspended"}</Status>`);
  });
});

describe("backup writer policy", () => {
  const policy = backupWriterPolicy("prod-backups");
  const statements = policy.Statement;

  it("reaches only the backups bucket and its objects", () => {
    const resources = statements.flatMap((s) => s.Resource);
    expect(new Set(resources)).toEqual(new Set(["arn:aws:s3:::prod-backups", "arn:aws:s3:::prod-backups/*"]));
  });

  it("grants no wildcard, delete, policy or ACL action", () => {
    const actions = statements.flatMap((s) => s.Action);
    expect(actions.every((a) => /^s3:[A-Za-z]+$/.test(a))).toBe(true);
    expect(actions.filter((a) => /\*|Delete|Policy|Acl|Lifecycle|Versioning/.test(a))).toEqual([]);
    expect(actions).toEqual(expect.arrayContaining(["s3:PutObject", "s3:GetObject", "s3:ListBucket"]));
  });

  it("puts bucket-level actions on the bucket and object-level actions on its objects", () => {
    for (const statement of statements) {
      const onObjects = statement.Resource.every((r) => r.endsWith("/*"));
      const objectActions = statement.Action.filter((a) => /Object|MultipartUpload$|MultipartUploadParts/.test(a) && a !== "s3:ListBucketMultipartUploads");
      expect(objectActions.length > 0).toBe(onObjects);
    }
  });
});
