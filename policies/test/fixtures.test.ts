import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { evaluate, runPolicies, type Finding } from "../evaluate";
import { policies } from "../pack";
import type { FailCase, PassCase } from "../../tests/fixtures/policies/fixture-case";
import { readGolden } from "../../tests/fixtures/golden-file";
import { loadFailFixtures, loadPassFixtures, type LoadedFixtures } from "./fixture-loader";

const GOLDEN = join(__dirname, "golden-findings.json");

interface GoldenEntry {
  fixture: string;
  case: string;
  change: string;
  findings: { policy: string; name: string; message: string }[];
}

let passFixtures: LoadedFixtures<PassCase>[] = [];
let failFixtures: LoadedFixtures<FailCase>[] = [];
/** The whole pack's findings per fail case, computed once: several tests read them. */
const failFindings = new Map<FailCase, Finding[]>();

beforeAll(async () => {
  passFixtures = await loadPassFixtures();
  failFixtures = await loadFailFixtures();
  for (const { cases } of failFixtures) {
    for (const fixture of cases) failFindings.set(fixture, await run(fixture));
  }
  // Some 200 whole-pack runs; generous because CI machines are shared.
}, 600_000);

const pairs = (findings: readonly { policy: string; name: string }[]): string[] =>
  [...new Set(findings.map((finding) => `${finding.policy} on ${finding.name}`))].sort();

async function run(fixture: PassCase): Promise<Finding[]> {
  return evaluate(fixture.resources, fixture.config ? { stack: fixture.stack, config: fixture.config } : { stack: fixture.stack });
}

describe("policy fixtures", () => {
  it("every pass fixture (hardened baselines and accepted variants) draws no finding from the whole pack", async () => {
    const failures: string[] = [];
    for (const { file, cases } of passFixtures) {
      for (const fixture of cases) {
        const findings = await run(fixture);
        if (findings.length > 0) failures.push(`${file} / ${fixture.case}: ${findings.map((f) => `${f.policy} on ${f.name}: ${f.message}`).join("; ")}`);
      }
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it("every one-field change draws exactly the findings its fixture names", async () => {
    const failures: string[] = [];
    for (const { file, cases } of failFixtures) {
      for (const fixture of cases) {
        const got = pairs(failFindings.get(fixture) ?? []);
        const want = pairs(fixture.expect);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          failures.push(`${file} / ${fixture.case} (${fixture.change}): expected [${want.join(", ")}] got [${got.join(", ")}]`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("a fail fixture file is named after the one policy it fails and lives in that policy's concern", () => {
    const misplaced = failFixtures.flatMap(({ file, cases }) => {
      const [concern, name] = file.split("/");
      const policyName = name?.replace(/^fail\./, "").replace(/\.ts$/, "");
      const policy = policies.find((candidate) => candidate.name === policyName);
      if (!policy) return [`${file}: no policy named ${policyName}`];
      if (policy.concern !== concern) return [`${file}: ${policyName} belongs to ${policy.concern}`];
      return cases.filter((fixture) => !fixture.expect.some((expected) => expected.policy === policyName)).map((fixture) => `${file} / ${fixture.case}: expects no ${policyName}`);
    });
    expect(misplaced).toEqual([]);
  });

  it("every policy has fail fixtures", () => {
    const covered = new Set(failFixtures.flatMap(({ cases }) => cases.flatMap((fixture) => fixture.expect.map((expected) => expected.policy))));
    expect(policies.map((policy) => policy.name).filter((name) => !covered.has(name))).toEqual([]);
  });

  it("exempting the failing resource by name silences that policy on it, and only that resource", async () => {
    const failures: string[] = [];
    for (const { file, cases } of failFixtures) {
      const policyName = file.replace(/^.*\/fail\./, "").replace(/\.ts$/, "");
      const policy = policies.filter((candidate) => candidate.name === policyName);
      for (const fixture of cases) {
        const names = fixture.expect.filter((expected) => expected.policy === policyName).map((expected) => expected.name);
        const exempt = async (exempted: string[]): Promise<string[]> => {
          const exemptions = exempted.map((name) => ({ name, reason: `fixture: ${fixture.case}` }));
          const config = { ...fixture.config, [policyName]: { exemptions } };
          return pairs(await runPolicies(policy, fixture.resources, { stack: fixture.stack, config }));
        };
        const all = await exempt(names);
        if (all.length > 0) failures.push(`${file} / ${fixture.case}: still [${all.join(", ")}] after exempting ${names.join(", ")}`);
        const [first, ...rest] = names;
        if (rest.length > 0 && first !== undefined) {
          const partial = await exempt([first]);
          if (partial.some((pair) => pair.endsWith(` on ${first}`)) || partial.length !== rest.length) {
            failures.push(`${file} / ${fixture.case}: exempting ${first} left [${partial.join(", ")}]`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("no finding repeats the secret it found (findings end up in CI logs and PR comments)", () => {
    // Every literal credential the secrets fixtures plant.
    const planted = [
      "correct-horse-battery",
      "mongo-root-pw",
      "s3cret-broker",
      "minio-long-password",
      "grafana-pw-123",
      "sk_live_51abc",
      "pa55word",
      "redis-url-pw",
      "redis-pw-literal",
      "tok_abc123",
      "migrate-pw",
      "pg-literal",
      "backup-pw",
      "redis-literal",
      "bucket-pw",
      "replica-pw",
      "scrape-pw",
      "grafana-db-pw",
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
      "aws-planted-secret",
      "eyJ0eXAi-azure-planted",
      "1//0gcp-planted-refresh",
      "oci-planted-key-content",
      "azure-planted~secret",
    ];
    const sources = failFixtures.flatMap(({ cases }) => cases).map((fixture) => JSON.stringify(fixture.resources));
    for (const secret of planted) expect(sources.some((source) => source.includes(secret)), `${secret} is planted by a fixture`).toBe(true);
    const leaks = [...failFindings.values()].flat().filter((finding) => planted.some((secret) => finding.message.includes(secret)));
    expect(leaks).toEqual([]);
  });

  it("messages match the golden file (UPDATE_GOLDEN=1 rewrites it)", async () => {
    const entries: GoldenEntry[] = [];
    for (const { file, cases } of failFixtures) {
      for (const fixture of cases) {
        const findings = failFindings.get(fixture) ?? [];
        entries.push({
          fixture: file,
          case: fixture.case,
          change: fixture.change,
          findings: findings.map(({ policy, name, message }) => ({ policy, name, message })),
        });
      }
    }
    expect(entries).toEqual(readGolden(GOLDEN, entries));
  });
});
