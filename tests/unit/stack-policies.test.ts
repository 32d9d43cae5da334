import { describe, expect, it } from "vitest";
import { readStackConfig } from "../../scripts/mock-engine";
import { findingsFor } from "../../scripts/stack-findings";
import { runStack } from "./stack-run";

describe("the policy pack on both stacks", () => {
  it.each(["dev", "prod"])("%s has no mandatory finding", async (stack) => {
    const findings = await findingsFor(await runStack(stack));
    expect(findings.filter((f) => f.enforcement === "mandatory")).toEqual([]);
  });

  it("finds the data ports a deliberately insecure dev config publishes on every interface", async () => {
    const config = readStackConfig("dev");
    config["fundament:docker"] = JSON.stringify({ publishAddress: "0.0.0.0", publishDataPorts: true });
    const findings = await findingsFor(await runStack("dev", config));
    const exposed = findings.filter((f) => f.policy === "no-public-data-port" && f.enforcement === "mandatory").map((f) => f.name).sort();
    expect(exposed).toEqual(expect.arrayContaining(["mongo", "pgbouncer", "postgres", "rabbitmq", "redis", "minio"]));
    for (const finding of findings.filter((f) => f.policy === "no-public-data-port")) expect(finding.message).toContain("0.0.0.0");
  });

  it("accepts the same ports published on loopback", async () => {
    const config = readStackConfig("dev");
    config["fundament:docker"] = JSON.stringify({ publishAddress: "127.0.0.1", publishDataPorts: true });
    const findings = await findingsFor(await runStack("dev", config));
    expect(findings.filter((f) => f.policy === "no-public-data-port")).toEqual([]);
  });
});
