/**
 * Growing a prod volume must not replace its StatefulSet. pulumi-kubernetes (provider/pkg/provider/
 * diff.go) replaces an apps/v1 StatefulSet when any input path in STATEFULSET_REPLACED_ON changes
 * (the API server refuses to update them in place); a replacement deletes the set, its pods stop,
 * and the new set's templates still do not resize the claims the old one made. The size has to
 * reach the claims themselves.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { readStackConfig, RecordedResource } from "../../scripts/mock-engine";
import { runStack, StackView } from "./stack-run";

const STATEFULSET_REPLACED_ON = ["spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.selector", "spec.serviceName", "spec.volumeClaimTemplates"];
const STATEFULSET = "kubernetes:apps/v1:StatefulSet";
const CLAIM_PATCH = "kubernetes:core/v1:PersistentVolumeClaimPatch";

interface ClaimTemplate {
  metadata: { name: string };
  spec: { resources: { requests: { storage: string } } };
}

/** Property paths (a.b.c) whose values differ between two input objects. */
function changedPaths(before: unknown, after: unknown, path = ""): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
  if (!isObject(before) || !isObject(after)) return [path];
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return keys.flatMap((key) => changedPaths(before[key], after[key], path ? `${path}.${key}` : key));
}

/** What the engine hands the provider to diff: changed paths, less those under ignoreChanges. */
function diffedPaths(before: RecordedResource, after: RecordedResource, view: StackView): string[] {
  const ignored = after.options.ignoreChanges;
  return changedPaths(view.revealed(before), view.revealed(after)).filter((path) => !ignored.some((prefix) => path === prefix || path.startsWith(`${prefix}.`)));
}

let prod: StackView;
let grown: StackView;
beforeAll(async () => {
  const config = readStackConfig("prod");
  const postgres = JSON.parse(config["fundament:postgres"] ?? "{}") as Record<string, unknown>;
  prod = await runStack("prod", config);
  grown = await runStack("prod", { ...config, "fundament:postgres": JSON.stringify({ ...postgres, storageGiB: Number(postgres.storageGiB) + 100 }) });
});

describe("prod StatefulSets and their volumes", () => {
  it("growing postgres.storageGiB changes no StatefulSet input that forces a replacement", () => {
    const before = prod.one(STATEFULSET, "postgres");
    const after = grown.one(STATEFULSET, "postgres");
    // The program does ask for the larger template; the engine must not pass that on.
    expect(changedPaths(prod.revealed(before), grown.revealed(after))).toContain("spec.volumeClaimTemplates");
    const diffed = diffedPaths(before, after, grown);
    expect(diffed.filter((path) => STATEFULSET_REPLACED_ON.some((field) => path === field || path.startsWith(`${field}.`)))).toEqual([]);
    expect(after.options.replaceOnChanges).toEqual([]);
    expect(after.options.deleteBeforeReplace).toBe(false);
  });

  it("grows each of the set's claims in place instead, by its StatefulSet name", () => {
    const size = (view: StackView, name: string): string => ((view.revealed(view.one(CLAIM_PATCH, name)).spec as ClaimTemplate["spec"]).resources.requests.storage);
    expect(size(prod, "data-postgres-0")).toBe("200Gi");
    expect(size(grown, "data-postgres-0")).toBe("300Gi");
    const claim = grown.revealed(grown.one(CLAIM_PATCH, "data-postgres-0"));
    // Only the size is applied, and the claim's creator (the StatefulSet controller) yields that field.
    expect(claim).toMatchObject({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "data-postgres-0", namespace: "fundament-prod", annotations: { "pulumi.com/patchForce": "true" } } });
    expect(Object.keys(claim.spec as object)).toEqual(["resources"]);
  });

  it("has one claim size per template and replica of every StatefulSet, matching its template name", () => {
    for (const set of prod.all(STATEFULSET)) {
      const spec = prod.revealed(set).spec as { replicas: number; volumeClaimTemplates: ClaimTemplate[] };
      expect(set.options.ignoreChanges, set.name).toEqual(["spec.volumeClaimTemplates"]);
      for (const template of spec.volumeClaimTemplates) {
        for (let ordinal = 0; ordinal < spec.replicas; ordinal++) {
          const name = `${template.metadata.name}-${set.name}-${ordinal}`;
          const claim = prod.revealed(prod.one(CLAIM_PATCH, name)) as { spec: ClaimTemplate["spec"] };
          expect(claim.spec.resources.requests.storage, name).toBe(template.spec.resources.requests.storage);
        }
      }
    }
  });
});
