import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderAlertRules } from "../../components/monitoring/alert-rules";
import { PrometheusConfigInput, renderPrometheusConfig } from "../../components/monitoring/prometheus-config";
import { ScrapeTarget } from "../../components/monitoring/scrape-targets";

let dir: string;

const TARGETS: ScrapeTarget[] = [
  { name: "postgres-exporter", port: 9187, path: "/metrics", role: "exporter", service: "postgres", zones: ["backend", "monitoring"], replicas: 1 },
  { name: "users", port: 9464, path: "/metrics", role: "service", service: "users", zones: ["frontend", "backend", "monitoring"], replicas: 3 },
  { name: "minio", port: 9000, path: "/minio/v2/metrics/cluster", role: "data", service: "minio", zones: ["backend", "monitoring"], replicas: 1 },
];

function input(discovery: PrometheusConfigInput["discovery"]): PrometheusConfigInput {
  return { environment: "dev", discovery, scrapeIntervalSeconds: 15, alertmanagers: ["alertmanager:9093"], ruleFiles: [join(dir, "alerts.yml")], targets: TARGETS };
}

function promtool(args: string[]): { status: number | null; output: string } {
  const result = spawnSync("promtool", args, { cwd: dir, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Debian's promtool is built without Kubernetes discovery; the pinned image's has it. */
function promtoolKnowsKubernetes(): boolean {
  const probe = mkdtempSync(join(tmpdir(), "fundament-promtool-"));
  writeFileSync(join(probe, "p.yml"), "scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: pod\n");
  const ok = spawnSync("promtool", ["check", "config", join(probe, "p.yml")]).status === 0;
  rmSync(probe, { recursive: true, force: true });
  return ok;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fundament-prometheus-"));
  writeFileSync(join(dir, "alerts.yml"), renderAlertRules({ escalationAfterMinutes: 30 }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("prometheus.yml", () => {
  it("promtool check config accepts the Docker rendering, rule file included", () => {
    writeFileSync(join(dir, "docker.yml"), renderPrometheusConfig(input({ kind: "static" })));
    const result = promtool(["check", "config", "docker.yml"]);
    expect(result.output).toContain("SUCCESS");
    expect(result.status, result.output).toBe(0);
  });

  it.skipIf(!promtoolKnowsKubernetes())("promtool check config accepts the Kubernetes rendering", () => {
    writeFileSync(join(dir, "kubernetes.yml"), renderPrometheusConfig(input({ kind: "kubernetes-pods", namespace: "fundament" })));
    const result = promtool(["check", "config", "kubernetes.yml"]);
    expect(result.status, result.output).toBe(0);
  });

  it("scrapes each target on its declared path and labels it with service, zone, environment and role", () => {
    const config = parse(renderPrometheusConfig(input({ kind: "static" }))) as { global: Record<string, string>; scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[]; labels: Record<string, string> }[] }[] };
    expect(config.global).toEqual({ scrape_interval: "15s", evaluation_interval: "15s", scrape_timeout: "10s" });
    const minio = config.scrape_configs.find((j) => j.job_name === "minio")!;
    expect(minio.metrics_path).toBe("/minio/v2/metrics/cluster");
    expect(minio.static_configs).toEqual([{ targets: ["minio:9000"], labels: { service: "minio", zone: "monitoring", environment: "dev", role: "data" } }]);
  });

  it("scrapes a target that wants HTTPS, a client certificate and a token (Consul) in a form promtool accepts, and names the files it needs", () => {
    const files = { caFile: join(dir, "consul-ca.pem"), certFile: join(dir, "consul-client.pem"), keyFile: join(dir, "consul-client-key.pem"), credentialsFile: join(dir, "consul-token") };
    const consul: ScrapeTarget = {
      name: "consul",
      port: 8501,
      path: "/v1/agent/metrics",
      role: "data",
      service: "consul",
      zones: ["frontend", "backend", "monitoring"],
      replicas: 1,
      access: { params: { format: ["prometheus"] }, serverName: "consul", ...files, files: [] },
    };
    writeFileSync(join(dir, "consul.yml"), renderPrometheusConfig({ ...input({ kind: "static" }), targets: [...TARGETS, consul] }));
    // promtool checks that every file a scrape names exists: without them the configuration is refused.
    expect(promtool(["check", "config", "consul.yml"]).status).not.toBe(0);
    for (const path of Object.values(files)) writeFileSync(path, "placeholder\n");
    const result = promtool(["check", "config", "consul.yml"]);
    expect(result.status, result.output).toBe(0);
    const job = (parse(renderPrometheusConfig({ ...input({ kind: "static" }), targets: [consul] })) as { scrape_configs: Record<string, unknown>[] }).scrape_configs[0];
    expect(job).toMatchObject({
      scheme: "https",
      params: { format: ["prometheus"] },
      tls_config: { ca_file: files.caFile, cert_file: files.certFile, key_file: files.keyFile, server_name: "consul", min_version: "TLS12" },
      authorization: { type: "Bearer", credentials_file: files.credentialsFile },
    });
  });

  it("scrapes a service's metrics listener over HTTPS verified against the CA alone (no client certificate, no token), in a form promtool accepts", () => {
    const caFile = join(dir, "platform-ca.crt");
    const users: ScrapeTarget = { name: "users", port: 9464, path: "/metrics", role: "service", service: "users", zones: ["frontend", "backend", "monitoring"], replicas: 1, access: { serverName: "users", caFile, files: [] } };
    writeFileSync(join(dir, "users.yml"), renderPrometheusConfig({ ...input({ kind: "static" }), targets: [...TARGETS.filter((t) => t.name !== "users"), users] }));
    writeFileSync(caFile, "placeholder\n");
    const result = promtool(["check", "config", "users.yml"]);
    expect(result.status, result.output).toBe(0);
    const job = (parse(renderPrometheusConfig({ ...input({ kind: "static" }), targets: [users] })) as { scrape_configs: Record<string, unknown>[] }).scrape_configs[0];
    expect(job).toMatchObject({ scheme: "https", tls_config: { ca_file: caFile, server_name: "users", min_version: "TLS12" } });
    expect(job.tls_config).not.toHaveProperty("cert_file");
    expect(job).not.toHaveProperty("authorization");
    expect(() => renderPrometheusConfig({ ...input({ kind: "static" }), targets: [{ ...users, access: { serverName: "users", caFile, certFile: caFile, files: [] } }] })).toThrow(
      /prometheus scrape target users: certFile and keyFile go together/,
    );
  });

  it("refuses two targets of one name rather than scraping one of them silently", () => {
    expect(() => renderPrometheusConfig({ ...input({ kind: "static" }), targets: [...TARGETS, TARGETS[0]] })).toThrow(/postgres-exporter is declared twice/);
  });
});
