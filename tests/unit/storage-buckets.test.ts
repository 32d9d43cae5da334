import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BucketSpec, defaultBuckets, validateBuckets } from "../../components/storage/buckets";
import { awsLifecycleRules } from "../../components/storage/aws-bucket-inputs";
import { planBuckets } from "../../components/storage/lifecycle-plan";
import { renderIlmJson, renderLifecycleConfiguration } from "../../components/storage/s3-configuration";

const KEY = "fundament:storage.buckets";

describe("defaultBuckets", () => {
  it("keeps backups versioned and expires current and noncurrent versions after the retention", () => {
    const [backups, media] = defaultBuckets(14);
    expect(backups).toEqual({ name: "backups", versioning: true, expireDays: 14, noncurrentExpireDays: 14 });
    expect(media?.name).toBe("media");
    expect(media?.expireDays).toBeUndefined();
    expect(validateBuckets(defaultBuckets(14), KEY)).toEqual([]);
  });
});

describe("validateBuckets", () => {
  const backups = { name: "backups", versioning: true, expireDays: 30 };
  const cases: { what: string; buckets: unknown; problems: string[] }[] = [
    { what: "a valid list", buckets: [backups, { name: "media", versioning: false }], problems: [] },
    { what: "not a list", buckets: { name: "backups" }, problems: [`${KEY}: must be a list of buckets (got an object)`] },
    {
      what: "an upper-case name",
      buckets: [backups, { name: "Media", versioning: true }],
      problems: [`${KEY}[1].name: must be lowercase letters, digits and hyphens, starting and ending with a letter or digit (got "Media")`],
    },
    {
      what: "a name too short",
      buckets: [backups, { name: "ab", versioning: true }],
      problems: [`${KEY}[1].name: must be 3 to 40 characters (got "ab", 2)`],
    },
    {
      what: "zero expiry days",
      buckets: [{ ...backups, expireDays: 0 }],
      problems: [`${KEY}[0].expireDays: must be at least 1 day (got 0)`],
    },
    {
      what: "fractional noncurrent days",
      buckets: [{ ...backups, noncurrentExpireDays: 1.5 }],
      problems: [`${KEY}[0].noncurrentExpireDays: must be a whole number of days (got 1.5)`],
    },
    {
      what: "noncurrent expiry on an unversioned bucket",
      buckets: [backups, { name: "media", versioning: false, noncurrentExpireDays: 3 }],
      problems: [`${KEY}[1].noncurrentExpireDays: needs versioning: true, an unversioned bucket keeps no noncurrent versions (got 3)`],
    },
    {
      what: "a misspelt key",
      buckets: [{ ...backups, expiryDays: 3 }],
      problems: [`${KEY}[0].expiryDays: unknown key (did you mean expireDays?)`],
    },
    {
      what: "versioning as a string",
      buckets: [{ name: "backups", versioning: "yes" }],
      problems: [`${KEY}[0].versioning: must be true or false (got "yes")`],
    },
    {
      what: "a duplicate name",
      buckets: [backups, { name: "backups", versioning: false }],
      problems: [`${KEY}[1].name: duplicates ${KEY}[0].name (got "backups")`],
    },
    {
      what: "no backups bucket",
      buckets: [{ name: "media", versioning: true }],
      problems: [`${KEY}: must include a bucket named "backups" (the database backup job writes there)`],
    },
  ];
  it.each(cases)("$what", ({ buckets, problems }) => {
    expect(validateBuckets(buckets, KEY)).toEqual(problems);
  });

  it("reports every problem of a list at once", () => {
    const problems = validateBuckets([{ name: "X", versioning: 1, expireDays: -1 }], KEY);
    expect(problems.map((p) => p.split(":")[1])).toEqual([
      "storage.buckets[0].name",
      "storage.buckets[0].versioning",
      "storage.buckets[0].expireDays",
      "storage.buckets",
    ]);
  });
});

const bucketName = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$/);
const days = fc.option(fc.integer({ min: 1, max: 36_500 }), { nil: undefined });
const bucketSpec: fc.Arbitrary<BucketSpec> = fc
  .record({ name: bucketName, versioning: fc.boolean(), expireDays: days, noncurrentExpireDays: days })
  .map((b) => ({ ...b, noncurrentExpireDays: b.versioning ? b.noncurrentExpireDays : undefined }));
const bucketList = fc.uniqueArray(bucketSpec, { selector: (b) => b.name, minLength: 1, maxLength: 8 });

describe("the bucket model renderer", () => {
  it("gives every bucket exactly one lifecycle rule set, with positive days and at least one action per rule", () => {
    fc.assert(
      fc.property(bucketList, (buckets) => {
        const plans = planBuckets(buckets);
        expect(plans.map((p) => p.name)).toEqual(buckets.map((b) => b.name));
        for (const [i, plan] of plans.entries()) {
          const spec = buckets[i]!;
          const configuration = renderLifecycleConfiguration(plan);
          const wantsRules = spec.expireDays !== undefined || spec.noncurrentExpireDays !== undefined;
          expect(configuration.Rules).toHaveLength(wantsRules ? 1 : 0);
          for (const rule of configuration.Rules) {
            // MinIO refuses a rule with no action, and S3 one with days below 1.
            expect(rule.Expiration ?? rule.NoncurrentVersionExpiration).toBeDefined();
            if (rule.Expiration) expect(rule.Expiration.Days).toBe(spec.expireDays);
            if (rule.NoncurrentVersionExpiration) expect(rule.NoncurrentVersionExpiration.NoncurrentDays).toBe(spec.noncurrentExpireDays);
            for (const d of [rule.Expiration?.Days, rule.NoncurrentVersionExpiration?.NoncurrentDays]) {
              if (d !== undefined) expect(d).toBeGreaterThan(0);
            }
            expect(rule.ID.length).toBeLessThanOrEqual(255);
          }
        }
        expect(new Set(plans.flatMap((p) => p.rules.map((r) => r.id))).size).toBe(plans.reduce((n, p) => n + p.rules.length, 0));
      }),
    );
  });

  it("renders the same lifecycle to the MinIO ILM file and to the AWS resource inputs", () => {
    fc.assert(
      fc.property(bucketList, (buckets) => {
        for (const plan of planBuckets(buckets)) {
          const ilm = JSON.parse(renderIlmJson(plan)) as ReturnType<typeof renderLifecycleConfiguration>;
          const aws = awsLifecycleRules(plan);
          expect(aws.map((r) => ({ id: r.id, status: r.status, filter: r.filter, expiration: r.expiration, noncurrent: r.noncurrentVersionExpiration }))).toEqual(
            ilm.Rules.map((r) => ({
              id: r.ID,
              status: r.Status,
              filter: { prefix: r.Filter.Prefix },
              expiration: r.Expiration ? { days: r.Expiration.Days } : undefined,
              noncurrent: r.NoncurrentVersionExpiration ? { noncurrentDays: r.NoncurrentVersionExpiration.NoncurrentDays } : undefined,
            })),
          );
        }
      }),
    );
  });

  it("accepts every list the generator makes (the generator stays within what validation allows)", () => {
    fc.assert(
      fc.property(bucketList, (buckets) => {
        const withBackups = buckets.some((b) => b.name === "backups") ? buckets : [...buckets, { name: "backups", versioning: true }];
        expect(validateBuckets(withBackups, KEY)).toEqual([]);
      }),
    );
  });
});
