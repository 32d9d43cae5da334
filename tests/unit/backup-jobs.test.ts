// Every data service's backups reach the bucket: a backup CronJob per server, and an upload
// CronJob that mirrors the same claim under the server's own prefix.
import { beforeAll, describe, expect, it } from "vitest";
import { runStack, StackView } from "./stack-run";

let prod: StackView;

beforeAll(async () => {
  prod = await runStack("prod");
}, 120_000);

interface PodSpec {
  volumes: { persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }[];
  containers: { image: string }[];
}

const podOf = (name: string): PodSpec =>
  (prod.revealed(prod.one("kubernetes:batch/v1:CronJob", name)).spec as { jobTemplate: { spec: { template: { spec: PodSpec } } } }).jobTemplate.spec.template.spec;
const claimOf = (name: string) => podOf(name).volumes.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim;

describe("backups of every data service", () => {
  it.each(["postgres", "redis", "mongo"])("%s: a backup CronJob writes a claim that its upload CronJob reads, under the prefix %s/", (server) => {
    expect(claimOf(`${server}-backup`)).toEqual({ claimName: `${server}-backup-backups`, readOnly: false });
    expect(claimOf(`${server}-backup-upload`)).toEqual({ claimName: `${server}-backup-backups`, readOnly: true });
    const uploadFiles = JSON.stringify(prod.all("kubernetes:core/v1:ConfigMap").filter((c) => c.name.startsWith(`${server}-backup-upload`)).map((c) => prod.revealed(c)));
    expect(uploadFiles).toContain(`backups/$S3_BUCKET/${server}`);
  });

  it("the Redis and MongoDB backups run the server's own image, whose client tools match the server", () => {
    const imageOf = (name: string) => podOf(name).containers[0].image;
    const statefulImage = (name: string) =>
      (prod.revealed(prod.one("kubernetes:apps/v1:StatefulSet", name)).spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0].image;
    expect(imageOf("redis-backup")).toBe(statefulImage("redis"));
    expect(imageOf("mongo-backup")).toBe(statefulImage("mongo"));
  });
});
