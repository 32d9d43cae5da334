import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NODE_EXPORTER_MOUNTS, nodeExporterWorkload } from "../../components/monitoring/host-exporters";
import { SERVER_VERSIONS } from "../../components/config/server-versions";
import { PrometheusProcess, startPrometheusProcess } from "../../scripts/local-servers/prometheus-process";

/**
 * The node-exporter workload's own arguments, given to Debian's prometheus-node-exporter at the
 * pinned line (forky), with each host mount's container path put back to the host path it mounts
 * (the test root sees the host's /proc, /sys and / at their own paths). It must accept every flag
 * and export, for the host, each series the host alerts and the resource dashboard read.
 */
describe("node-exporter with the workload's arguments (Debian's binary)", () => {
  let exporter: PrometheusProcess;
  let scrape = "";

  beforeAll(async () => {
    const onHost = (arg: string): string =>
      [...NODE_EXPORTER_MOUNTS].sort((a, b) => b.path.length - a.path.length).reduce((out, m) => out.replace(new RegExp(`=${m.path}(?=/|$)`), `=${m.hostPath}`), arg);
    const args = (nodeExporterWorkload(SERVER_VERSIONS.nodeExporter.image).args ?? []).map(onHost);
    exporter = await startPrometheusProcess({ server: "nodeExporter", args, readyPath: "/metrics" });
    scrape = await (await fetch(`${exporter.url}/metrics`)).text();
  }, 120_000);

  afterAll(async () => {
    await exporter?.destroy();
  });

  const series = (name: string): string[] => scrape.split("\n").filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));

  it("accepts every argument and exports the metric names the host alerts and the dashboard use", () => {
    expect(series("node_cpu_seconds_total").some((line) => line.includes('mode="idle"'))).toBe(true);
    for (const name of ["node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "node_filesystem_avail_bytes", "node_filesystem_size_bytes"]) {
      expect(series(name).length, `${name} in the scrape`).toBeGreaterThan(0);
    }
  });

  it("reports the host's root filesystem and leaves out the pseudo filesystems the exclusion names", () => {
    const mountpoints = series("node_filesystem_size_bytes").map((line) => /mountpoint="([^"]*)"/.exec(line)?.[1]);
    expect(mountpoints).toContain("/");
    expect(mountpoints.filter((m) => m !== undefined && /^\/(dev|proc|sys)($|\/)/.test(m))).toEqual([]);
  });
});
