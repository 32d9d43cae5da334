import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isSecretMarker, plainStrings, readStackConfig, RecordedResource } from "../../scripts/mock-engine";
import { loadStackConfig } from "../../components/config";
import { runStack, secretLeaks, StackView, unwrapSecrets } from "./stack-run";

const CONTAINER = "docker:index/container:Container";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
const MONITORING = ["prometheus", "alertmanager", "grafana", "jaeger"];
/** Data servers that serve their own metrics; the others are scraped through their exporter. */
const SELF_EXPORTING_DATA = ["rabbitmq", "minio"];

interface ScrapeJob {
  job_name: string;
  metrics_path: string;
  static_configs?: { targets: string[]; labels: Record<string, string> }[];
  kubernetes_sd_configs?: { role: string; namespaces: { names: string[] }; selectors: { label: string }[] }[];
  relabel_configs?: { source_labels?: string[]; regex?: string; target_label?: string; replacement?: string; action?: string }[];
}

let dev: StackView;
let prod: StackView;
beforeAll(async () => {
  dev = await runStack("dev");
  prod = await runStack("prod");
});

function label(view: StackView, container: RecordedResource, key: string): string | undefined {
  return (view.revealed(container).labels as { label: string; value: string }[]).find((l) => l.label === key)?.value;
}

interface Upload {
  file: string;
  content: string;
  permissions: string;
}

/** A read-only container gets its files through a carrier container (<name>-files) the runtime creates. */
function uploadsOf(view: StackView, name: string): Upload[] {
  return view.all(CONTAINER).filter((c) => c.name === name || c.name === `${name}-files`).flatMap((c) => (view.revealed(c).uploads as Upload[] | undefined) ?? []);
}

function upload(view: StackView, container: RecordedResource, path: string): string {
  const found = uploadsOf(view, container.name).find((u) => u.file === path);
  if (!found) throw new Error(`${container.name} has no upload ${path}`);
  return found.content;
}

function devScrapeJobs(): ScrapeJob[] {
  return (parse(upload(dev, dev.one(CONTAINER, "prometheus"), "/etc/prometheus/prometheus.yml")) as { scrape_configs: ScrapeJob[] }).scrape_configs;
}

function prodScrapeJobs(): ScrapeJob[] {
  const map = prod.all(CONFIG_MAP).find((m) => (prod.revealed(m).metadata as { labels: Record<string, string> }).labels["app.kubernetes.io/name"] === "prometheus");
  if (!map) throw new Error("no prometheus ConfigMap");
  const data = prod.revealed(map).data as Record<string, string>;
  return (parse(data["etc_prometheus_prometheus.yml"]) as { scrape_configs: ScrapeJob[] }).scrape_configs;
}

describe("Prometheus scrape targets", () => {
  it("on Docker: every exporter, service and monitoring container and the self-exporting data servers, each on its own", () => {
    const containers = dev.all(CONTAINER).filter((c) => label(dev, c, "fundament.role") !== "job" && label(dev, c, "fundament.files-for") === undefined);
    const expected = containers
      .filter((c) => ["exporter", "service", "monitoring", "gateway"].includes(label(dev, c, "fundament.role")!) || SELF_EXPORTING_DATA.includes(c.name))
      .map((c) => c.name)
      .sort();
    const jobs = devScrapeJobs();
    expect(jobs.map((j) => j.job_name).sort()).toEqual(expected);
    expect(expected).toEqual(expect.arrayContaining(["users", "config", "postgres-exporter", "pgbouncer-exporter", "redis-exporter", "mongo-exporter", "rabbitmq", "minio", ...MONITORING]));
    for (const job of jobs) {
      const [config] = job.static_configs!;
      expect(config.targets).toHaveLength(1);
      expect(config.targets[0]).toMatch(new RegExp(`^${job.job_name}:\\d+$`));
      expect(config.labels).toMatchObject({ zone: "monitoring", environment: "dev" });
      expect(Object.keys(config.labels).sort()).toEqual(["environment", "role", "service", "zone"]);
    }
    expect(jobs.find((j) => j.job_name === "postgres-exporter")!.static_configs![0].labels.service).toBe("postgres");
  });

  it("on Kubernetes: every pod of each such workload, found by label in the stack's namespace, never a Service address", () => {
    const controllers = prod.resources.filter((r) => ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"].includes(r.type));
    const role = (r: RecordedResource) => (prod.revealed(r).metadata as { labels: Record<string, string> }).labels["fundament.io/role"];
    const expected = controllers.filter((c) => ["exporter", "service", "monitoring", "gateway"].includes(role(c)) || SELF_EXPORTING_DATA.includes(c.name)).map((c) => c.name).sort();
    const jobs = prodScrapeJobs();
    expect(jobs.map((j) => j.job_name).sort()).toEqual(expected);
    for (const job of jobs) {
      expect(job.static_configs).toBeUndefined();
      const [sd] = job.kubernetes_sd_configs!;
      expect(sd.role).toBe("pod");
      expect(sd.namespaces.names).toEqual(["fundament-prod"]);
      expect(sd.selectors[0].label).toBe(`app.kubernetes.io/name=${job.job_name}`);
      expect(job.relabel_configs).toContainEqual({ source_labels: ["__meta_kubernetes_pod_name"], target_label: "instance" });
    }
  });
});

describe("monitoring workloads", () => {
  it.each(MONITORING)("%s on Docker: monitoring zone only, no published port, read from the image it pins", (name) => {
    const container = dev.one(CONTAINER, name);
    const networks = (dev.revealed(container).networksAdvanced as { name: string }[]).map((n) => n.name);
    expect(networks).toEqual(["dev-monitoring"]);
    expect(dev.revealed(container).ports ?? []).toEqual([]);
  });

  it.each(MONITORING)("%s on Kubernetes: only the monitoring zone label, a ClusterIP Service", (name) => {
    const controller = prod.resources.find((r) => r.name === name && r.type.startsWith("kubernetes:apps/v1:"))!;
    const labels = (prod.revealed(controller).metadata as { labels: Record<string, string> }).labels;
    expect(Object.keys(labels).filter((k) => k.startsWith("fundament.io/zone-"))).toEqual(["fundament.io/zone-monitoring"]);
    const service = prod.one("kubernetes:core/v1:Service", name);
    expect((prod.revealed(service).spec as { type: string }).type).toBe("ClusterIP");
  });

  it("Prometheus keeps its admin API and lifecycle endpoints off, retention by time and size", () => {
    const args = dev.revealed(dev.one(CONTAINER, "prometheus")).command as string[];
    expect(args.some((a) => a.startsWith("--web.enable-admin-api") || a.startsWith("--web.enable-lifecycle"))).toBe(false);
    expect(args).toContain("--storage.tsdb.retention.time=15d");
    expect(args).toContain(`--storage.tsdb.retention.size=${Math.floor(20 * 1024 * 0.9)}MB`);
  });

  it("Grafana: no anonymous access, no sign-up, a generated admin password delivered only as a secret file", () => {
    const inputs = dev.revealed(dev.one(CONTAINER, "grafana"));
    const env = Object.fromEntries((inputs.envs as string[]).map((e) => e.split(/=(.*)/s).slice(0, 2)));
    expect(env.GF_AUTH_ANONYMOUS_ENABLED).toBe("false");
    expect(env.GF_USERS_ALLOW_SIGN_UP).toBe("false");
    expect(env.GF_SECURITY_ADMIN_PASSWORD).toBeUndefined();
    expect(env.GF_SECURITY_ADMIN_PASSWORD__FILE).toBe("/run/secrets/grafana-admin-password");
    expect(isSecretMarker(dev.one(CONTAINER, "grafana-files").inputs.uploads)).toBe(true);
    const uploads = uploadsOf(dev, "grafana");
    const password = uploads.find((u) => u.file === "/run/secrets/grafana-admin-password")!;
    expect(password.permissions).toBe("0400");
    expect(password.content).toMatch(/^\S{8,}$/);
    expect(secretLeaks(dev)).toEqual([]);
    expect(secretLeaks(prod)).toEqual([]);
  });

  it("Grafana provisions Prometheus, Alertmanager and Jaeger, and the six dashboards", () => {
    const grafana = dev.one(CONTAINER, "grafana");
    const datasources = parse(upload(dev, grafana, "/etc/grafana/provisioning/datasources/fundament.yaml")) as { datasources: { type: string; url: string }[] };
    expect(datasources.datasources.map((d) => [d.type, d.url])).toEqual([
      ["prometheus", "http://prometheus:9090"],
      ["alertmanager", "http://alertmanager:9093"],
      ["jaeger", "http://jaeger:16686"],
    ]);
    const files = uploadsOf(dev, "grafana").map((u) => u.file).filter((f) => f.startsWith("/etc/grafana/dashboards/"));
    expect(files.sort()).toEqual(["broker", "databases", "gpu-jobs", "overview", "resources", "services"].map((d) => `/etc/grafana/dashboards/fundament-${d}.json`));
  });

  it("services send spans to Jaeger's OTLP/HTTP port inside the monitoring zone", () => {
    for (const service of ["users", "config"]) {
      const envs = dev.revealed(dev.one(CONTAINER, service)).envs as string[];
      expect(envs).toContain("OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318");
    }
    const jaegerPorts = (prod.revealed(prod.one("kubernetes:core/v1:Service", "jaeger")).spec as { ports: { port: number }[] }).ports.map((p) => p.port);
    expect(jaegerPorts).toEqual(expect.arrayContaining([4317, 4318]));
  });
});

describe("monitoring outputs", () => {
  it("give each UI's gateway URL and say that alerts reach only the UI when no receiver is configured", () => {
    const monitoring = unwrapSecrets(dev.outputs.monitoring) as { ui: Record<string, { url: string }>; alerting: { receivers: string[]; note?: string } };
    expect(Object.fromEntries(Object.entries(monitoring.ui).map(([k, v]) => [k, v.url]))).toEqual({
      prometheus: "https://prometheus.fundament.localhost/",
      alertmanager: "https://alertmanager.fundament.localhost/",
      grafana: "https://grafana.fundament.localhost/",
      jaeger: "https://jaeger.fundament.localhost/",
    });
    expect(monitoring.alerting.receivers).toEqual([]);
    expect(monitoring.alerting.note).toMatch(/only in the Alertmanager UI/);
  });

  it("with receivers configured: lists them, and their credentials are secret files, never plain text", async () => {
    const slackUrl = "https://hooks.slack.example/services/T000/B000/abcdefabcdefabcdef";
    const config = {
      ...readStackConfig("dev"),
      "fundament:monitoring": JSON.stringify({
        receivers: {
          pager: { url: "https://pager.example/hook", key: "pager-key-0123456789" },
          slack: { webhookUrl: slackUrl },
          email: { to: "oncall@example.com", from: "am@example.com", smarthost: "smtp.example.com:587", username: "am", password: "smtp-pass-0123456789" },
        },
      }),
    };
    const configured = await runStack("dev", config);
    const monitoring = unwrapSecrets(configured.outputs.monitoring) as { alerting: { receivers: string[]; note?: string } };
    expect(monitoring.alerting).toEqual({ receivers: ["pager", "slack", "email"] });
    const plain = [...configured.resources.flatMap((r) => plainStrings(r.inputs)), ...plainStrings(configured.outputs)].map((l) => l.value).join("\n");
    for (const credential of [slackUrl, "pager-key-0123456789", "smtp-pass-0123456789"]) expect(plain).not.toContain(credential);
    const uploads = uploadsOf(configured, "alertmanager");
    const secretFiles = uploads.filter((u) => u.file.startsWith("/etc/alertmanager/secrets/"));
    expect(secretFiles.map((u) => [u.file, u.permissions, u.content])).toEqual([
      ["/etc/alertmanager/secrets/pager-key", "0400", "pager-key-0123456789"],
      ["/etc/alertmanager/secrets/slack-webhook-url", "0400", slackUrl],
      ["/etc/alertmanager/secrets/smtp-password", "0400", "smtp-pass-0123456789"],
    ]);
    const rendered = uploads.find((u) => u.file === "/etc/alertmanager/alertmanager.yml")!.content;
    expect(rendered).toContain("api_url_file: /etc/alertmanager/secrets/slack-webhook-url");
  });
});

describe("monitoring config", () => {
  const load = (monitoring: unknown) => () => loadStackConfig("dev", { ...readStackConfig("dev"), "fundament:monitoring": JSON.stringify(monitoring) });

  it("refuses half an e-mail receiver and a key without its URL, naming each field, before anything is registered", () => {
    expect(load({ receivers: { email: { to: "oncall@example.com" }, pager: { key: "k" } } })).toThrow(
      /fundament:monitoring\.receivers\.pager\.key: set without fundament:monitoring\.receivers\.pager\.url[\s\S]*fundament:monitoring\.receivers\.email\.from: required[\s\S]*fundament:monitoring\.receivers\.email\.smarthost: required/,
    );
    expect(load({ scrapeIntervalSeconds: 1 })).toThrow(/fundament:monitoring\.scrapeIntervalSeconds: must be at least 5 \(got 1\)/);
    expect(load({ receivers: { slack: { webhookUrl: "not a url" } } })).toThrow(/fundament:monitoring\.receivers\.slack\.webhookUrl: must be an http:\/\/ or https:\/\/ URL/);
  });
});
