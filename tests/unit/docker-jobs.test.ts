import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runStack, StackView } from "./stack-run";

const ROOT = join(__dirname, "..", "..");
const CONTAINER = "docker:index/container:Container";

describe("one-shot jobs on Docker", () => {
  let dev: StackView;
  beforeAll(async () => {
    dev = await runStack("dev");
  });

  it("keeps every job's output out of the state: no logs recorded, and containerLogs stored as a secret", () => {
    // minio-buckets runs `mc admin user add`, which prints the access key it adds.
    const jobs = dev.all(CONTAINER).filter((c) => dev.revealed(c).attach === true);
    expect(jobs.map((j) => j.name)).toEqual(expect.arrayContaining(["minio-buckets", "mongo-init", "users-migrate", "config-migrate"]));
    for (const job of jobs) {
      expect(dev.revealed(job).logs ?? false, job.name).toBe(false);
      expect(job.options.additionalSecretOutputs, job.name).toContain("containerLogs");
    }
  });

  it("fails the deployment when a job exits non-zero, with where its output is and the exact command that reruns it", () => {
    // Run the real program in its own process, as the language host does: the failure surfaces
    // as the program's unhandled error, after the provider has recorded the container.
    const script = [
      `const { runProgram, readStackConfig } = require(${JSON.stringify(join(ROOT, "scripts/mock-engine.ts"))});`,
      `const { main } = require(${JSON.stringify(join(ROOT, "stacks/program.ts"))});`,
      `runProgram("dev", readStackConfig("dev"), main, { containerExitCodes: { "dev-users-migrate": 3 } });`,
    ].join("\n");
    const result = spawnSync(join(ROOT, "node_modules/.bin/tsx"), ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.status, output).not.toBe(0);
    expect(output).toContain("job users-migrate exited with code 3; its output: docker logs dev-users-migrate");
    expect(output).toMatch(/npm run up -- dev --replace 'urn:pulumi:dev::fundament::[^']*docker:index\/container:Container::users-migrate'/);
  }, 150_000);
});
