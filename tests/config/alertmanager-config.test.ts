import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AlertReceivers, RECEIVER, renderAlertmanagerConfig } from "../../components/monitoring/alertmanager-config";
import { freePort, waitFor } from "../../scripts/local-servers/free-port";

let dir: string;
const secret = (name: string) => join(dir, name);

function allReceivers(): AlertReceivers {
  return {
    pager: { url: "http://127.0.0.1:9/pager", keyFile: secret("pager-key") },
    slack: { apiUrlFile: secret("slack-url"), channel: "#alerts" },
    email: { to: "oncall@example.com", from: "alertmanager@example.com", smarthost: "127.0.0.1:25", username: "alertmanager", passwordFile: secret("smtp-password"), requireTls: true },
    escalation: { url: "http://127.0.0.1:9/escalation" },
    deadMansSwitch: { url: "http://127.0.0.1:9/dead-mans-switch" },
  };
}

function amtool(args: string[]): { status: number | null; stdout: string; output: string } {
  const result = spawnSync("amtool", args, { cwd: dir, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, output: `${result.stdout}${result.stderr}` };
}

/** The receivers `amtool config routes test` resolves an alert with these labels to. */
function routedTo(file: string, labels: Record<string, string>): string[] {
  const result = amtool(["config", "routes", "test", `--config.file=${file}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  if (result.status !== 0) throw new Error(result.output);
  return result.stdout.trim().split(",").map((r) => r.trim()).sort();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fundament-alertmanager-"));
  for (const name of ["pager-key", "slack-url", "smtp-password"]) writeFileSync(secret(name), name === "slack-url" ? "https://hooks.example.com/services/T/B/X\n" : "s3cr3t\n");
  writeFileSync(join(dir, "full.yml"), renderAlertmanagerConfig({ receivers: allReceivers() }));
  writeFileSync(join(dir, "none.yml"), renderAlertmanagerConfig({ receivers: {} }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("alertmanager.yml", () => {
  it.each(["full.yml", "none.yml"])("amtool check-config accepts %s", (file) => {
    const result = amtool(["check-config", file]);
    expect(result.output).toContain("SUCCESS");
    expect(result.status).toBe(0);
  });

  it.each([
    [{ alertname: "PostgresDown", severity: "critical" }, [RECEIVER.critical]],
    [{ alertname: "RedisMemoryNearMax", severity: "warning" }, [RECEIVER.warning]],
    [{ alertname: "SomethingInformative", severity: "info" }, [RECEIVER.ui]],
    [{ alertname: "Watchdog", severity: "info" }, [RECEIVER.deadMansSwitch]],
    [{ alertname: "CriticalUnresolved", severity: "critical", escalate: "true" }, [RECEIVER.escalation]],
    [{ alertname: "Unlabelled" }, [RECEIVER.ui]],
  ])("routes %j to exactly %j", (labels, receivers) => {
    expect(routedTo("full.yml", labels)).toEqual(receivers);
  });

  it("critical reaches pager and Slack, warning Slack and e-mail, info no integration", () => {
    const text = renderAlertmanagerConfig({ receivers: allReceivers() });
    const section = (name: string) => text.slice(text.indexOf(`- name: ${name}\n`)).split("\n  - name:")[0];
    expect(section(RECEIVER.critical)).toMatch(/webhook_configs:[\s\S]*\/pager[\s\S]*slack_configs:/);
    expect(section(RECEIVER.critical)).not.toContain("email_configs");
    expect(section(RECEIVER.warning)).toMatch(/slack_configs:[\s\S]*email_configs:/);
    expect(section(RECEIVER.warning)).not.toContain("webhook_configs");
    expect(section(RECEIVER.ui).trim()).toBe(`- name: ${RECEIVER.ui}`);
  });

  it("holds no credential: each comes from a file", () => {
    const text = renderAlertmanagerConfig({ receivers: allReceivers() });
    expect(text).not.toContain("s3cr3t");
    expect(text).not.toContain("hooks.example.com");
    expect(text).toContain(`api_url_file: ${secret("slack-url")}`);
    expect(text).toContain(`auth_password_file: ${secret("smtp-password")}`);
    expect(text).toContain(`credentials_file: ${secret("pager-key")}`);
  });
});

describe("inhibition, in a running Alertmanager", () => {
  let alertmanager: ChildProcess;
  let url: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    alertmanager = spawn(
      "prometheus-alertmanager",
      [`--config.file=${join(dir, "full.yml")}`, `--storage.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address="],
      { stdio: "ignore" },
    );
    await waitFor("alertmanager ready", async () => (await fetch(`${url}/-/ready`)).ok, 60_000, 200);
  });
  // Wait for it to exit: on SIGTERM it writes its silences and notification log into the data
  // directory, which the file's own cleanup would otherwise race (ENOTEMPTY).
  afterAll(async () => {
    if (!alertmanager || alertmanager.exitCode !== null || alertmanager.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => alertmanager.once("exit", () => resolve()));
    alertmanager.kill("SIGTERM");
    const timer = setTimeout(() => alertmanager.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  });

  const target = (job: string) => ({ environment: "dev", job, instance: `${job}:9187`, service: job.replace(/-exporter$/, "") });

  async function post(alerts: Record<string, string>[]): Promise<void> {
    const response = await fetch(`${url}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(alerts.map((labels) => ({ labels, startsAt: new Date().toISOString() }))),
    });
    expect(response.status).toBe(200);
  }

  async function inhibited(alertname: string, job: string): Promise<boolean> {
    const alerts = (await (await fetch(`${url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; status: { inhibitedBy: string[] } }[];
    const found = alerts.find((a) => a.labels.alertname === alertname && a.labels.job === job);
    if (!found) throw new Error(`alert ${alertname} of ${job} not in Alertmanager`);
    return found.status.inhibitedBy.length > 0;
  }

  it("a critical alert mutes the warnings of its own target, not of another", async () => {
    await post([
      { ...target("postgres-exporter"), alertname: "PostgresDown", severity: "critical" },
      { ...target("postgres-exporter"), alertname: "PostgresExporterErrors", severity: "warning" },
      { ...target("pgbouncer-exporter"), alertname: "PgBouncerClientsWaiting", severity: "warning" },
    ]);
    await waitFor("inhibition computed", () => inhibited("PostgresExporterErrors", "postgres-exporter"), 20_000, 200);
    expect(await inhibited("PostgresDown", "postgres-exporter")).toBe(false);
    expect(await inhibited("PgBouncerClientsWaiting", "pgbouncer-exporter")).toBe(false);
  });

  it("a target that is down mutes its other alerts, critical ones included", async () => {
    await post([
      { ...target("redis-exporter"), alertname: "TargetDown", severity: "critical" },
      { ...target("redis-exporter"), alertname: "RedisDown", severity: "critical" },
      { ...target("mongo-exporter"), alertname: "MongoDown", severity: "critical" },
    ]);
    await waitFor("inhibition computed", () => inhibited("RedisDown", "redis-exporter"), 20_000, 200);
    expect(await inhibited("TargetDown", "redis-exporter")).toBe(false);
    expect(await inhibited("MongoDown", "mongo-exporter")).toBe(false);
  });

  it("a target that is down does not mute the escalation of its own TargetDown", async () => {
    await post([
      { ...target("users"), alertname: "TargetDown", severity: "critical" },
      { ...target("users"), alertname: "CriticalUnresolved", severity: "critical", escalate: "true", escalated_alert: "TargetDown" },
      { ...target("users"), alertname: "ServiceNotReady", severity: "warning" },
    ]);
    await waitFor("inhibition computed", () => inhibited("ServiceNotReady", "users"), 20_000, 200);
    expect(await inhibited("CriticalUnresolved", "users")).toBe(false);
  });

  it("Watchdog is never muted", async () => {
    await post([{ ...target("redis-exporter"), alertname: "Watchdog", severity: "info" }]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await inhibited("Watchdog", "redis-exporter")).toBe(false);
  });
});
