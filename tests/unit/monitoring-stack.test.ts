import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isSecretMarker, plainStrings, readStackConfig, RecordedResource } from "../../scripts/mock-engine";
import { loadStackConfig } from "../../components/config";
import { runStack, secretLeaks, StackView, unwrapSecrets } from "./stack-run";

const CONTAINER = "docker:index/container:Container";
const CONFIG_MAP = "kubernetes:core/v1:ConfigMap";
const MONITORING = ["prometheus", "alertmanager", "grafana", "jaeger"];
/** Data servers that serve their own metrics (Consul: /v1/agent/metrics over HTTPS); the others are scraped through their exporter. */
const SELF_EXPORTING_DATA = ["rabbitmq", "minio", "consul"];

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
    const controllers = prod.resources.filter((r) => ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"].includes(r.type));
    const role = (r: RecordedResource) => (prod.revealed(r).metadata as { labels: Record<string, string> }).labels["fundament.io/role"];
    // kube-state-metrics comes from its chart: a Release, whose pods carry the chart's name label.
    const expected = [...controllers.filter((c) => ["exporter", "service", "monitoring", "gateway"].includes(role(c)) || SELF_EXPORTING_DATA.includes(c.name)).map((c) => c.name), "kube-state-metrics"].sort();
    const jobs = prodScrapeJobs();
    expect(jobs.map((j) => j.job_name).sort()).toEqual(expected);
    for (const job of jobs) {
      expect(job.static_configs).toBeUndefined();
      const [sd] = job.kubernetes_sd_configs!;
      expect(sd.role).toBe("pod");
      // The node agents' namespace admits host paths; every other target is in the platform's.
      expect(sd.namespaces.names).toEqual([job.job_name === "node-exporter" ? "fundament-prod-node-agents" : "fundament-prod"]);
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

  it("services record the share of traces monitoring.traceSampleRatio sets, and every trace their caller recorded", () => {
    const devEnv = (service: string) => dev.revealed(dev.one(CONTAINER, service)).envs as string[];
    const prodEnv = (service: string) => {
      const deployment = prod.revealed(prod.one("kubernetes:apps/v1:Deployment", service)) as { spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } } };
      return deployment.spec.template.spec.containers[0]!.env.map((e) => `${e.name}=${e.value}`);
    };
    for (const service of ["users", "config", "gpu-jobs"]) {
      expect(devEnv(service)).toEqual(expect.arrayContaining(["OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=1"]));
      expect(prodEnv(service)).toEqual(expect.arrayContaining(["OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1"]));
    }
  });
});

describe("host and cluster metrics", () => {
  const HOST_EXPORTERS = { "node-exporter": 9100, cadvisor: 8080 };
  type Volume = { hostPath?: string; containerPath: string; readOnly?: boolean };
  type Policy = { metadata: { name: string; namespace: string }; spec: Record<string, unknown> };
  const policies = (): Policy[] => prod.all("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => prod.revealed(p) as unknown as Policy);

  it.each(Object.entries(HOST_EXPORTERS))("%s on Docker: monitoring zone only, no published port, scraped on its metrics port, host paths read-only", (name, port) => {
    const inputs = dev.revealed(dev.one(CONTAINER, name));
    expect((inputs.networksAdvanced as { name: string }[]).map((n) => n.name)).toEqual(["dev-monitoring"]);
    expect(inputs.ports ?? []).toEqual([]);
    const binds = ((inputs.volumes as Volume[]) ?? []).filter((v) => v.hostPath !== undefined);
    expect(binds.length).toBeGreaterThan(0);
    for (const bind of binds) expect(bind.readOnly, `${name} ${bind.hostPath}`).toBe(true);
    const job = devScrapeJobs().find((j) => j.job_name === name)!;
    expect(job.static_configs![0].targets).toEqual([`${name}:${port}`]);
    // An exporter's service is what it reports on: node-exporter's is the node.
    expect(job.static_configs![0].labels).toEqual({ service: name === "node-exporter" ? "node" : name, zone: "monitoring", environment: "dev", role: "exporter" });
  });

  it("on Docker, only the host exporters bind host paths, and only cAdvisor the Docker socket", () => {
    const binders = dev.all(CONTAINER).filter((c) => ((dev.revealed(c).volumes as Volume[]) ?? []).some((v) => v.hostPath !== undefined)).map((c) => c.name);
    expect(binders.sort()).toEqual(["cadvisor", "node-exporter"]);
    const cadvisor = dev.revealed(dev.one(CONTAINER, "cadvisor"));
    expect(((cadvisor.volumes as Volume[]) ?? []).find((v) => v.hostPath === "/var/run/docker.sock")).toEqual({ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true });
    // Without it cAdvisor's restartcount label would start a new series at every restart, and the restart alert would never see one.
    expect(cadvisor.command).toContain("--store_container_labels=false");
  });

  it("on Kubernetes: node-exporter is a DaemonSet on every node, GPU nodes too, reading the node read-only in a namespace whose Pod Security admits it", () => {
    const inputs = prod.revealed(prod.one("kubernetes:apps/v1:DaemonSet", "node-exporter")) as unknown as {
      metadata: { namespace: string };
      spec: { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } };
    };
    expect(inputs.metadata.namespace).toBe("fundament-prod-node-agents");
    const pod = inputs.spec.template.spec as {
      hostNetwork?: boolean;
      hostPID?: boolean;
      tolerations: unknown[];
      volumes: { name: string; hostPath?: { path: string } }[];
      containers: { volumeMounts: { name: string; readOnly?: boolean }[]; securityContext: { runAsUser: number } }[];
    };
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.hostPID).toBeUndefined();
    expect(pod.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    const hostVolumes = pod.volumes.filter((v) => v.hostPath);
    expect(hostVolumes.map((v) => v.hostPath!.path).sort()).toEqual(["/", "/proc", "/sys"]);
    const mounts = pod.containers[0].volumeMounts.filter((m) => hostVolumes.some((v) => v.name === m.name));
    expect(mounts).toHaveLength(3);
    for (const mount of mounts) expect(mount.readOnly).toBe(true);
    expect(pod.containers[0].securityContext.runAsUser).toBe(65534);
    expect(Object.keys(inputs.spec.template.metadata.labels).filter((k) => k.startsWith("fundament.io/zone-"))).toEqual(["fundament.io/zone-monitoring"]);
    const namespaces = prod.all("kubernetes:core/v1:Namespace").map((n) => prod.revealed(n).metadata as { name: string; labels: Record<string, string> });
    expect(namespaces.find((m) => m.name === "fundament-prod-node-agents")!.labels["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    // The platform namespace stays at baseline, which refuses host paths.
    expect(namespaces.find((m) => m.name === "fundament-prod")!.labels["pod-security.kubernetes.io/enforce"]).toBe("baseline");
  });

  it("on Kubernetes: the platform's monitoring zone reaches node-exporter on 9100, allowed on both sides, and Prometheus lists its pods through a Role", () => {
    const inAgents = policies().filter((p) => p.metadata.namespace === "fundament-prod-node-agents");
    expect(inAgents.find((p) => p.metadata.name === "default-deny")!.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    const monitoringInPlatform = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "fundament-prod" } }, podSelector: { matchLabels: { "fundament.io/zone-monitoring": "true" } } };
    expect(inAgents.find((p) => p.metadata.name === "node-exporter-from-monitoring")!.spec).toEqual({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "node-exporter" } },
      policyTypes: ["Ingress"],
      ingress: [{ from: [monitoringInPlatform], ports: [{ protocol: "TCP", port: 9100 }] }],
    });
    const egress = policies().find((p) => p.metadata.name === "monitoring-to-node-agents")!;
    expect(egress.metadata.namespace).toBe("fundament-prod");
    expect(egress.spec.podSelector).toEqual({ matchLabels: { "fundament.io/zone-monitoring": "true" } });
    expect(egress.spec.egress).toEqual([
      { to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "fundament-prod-node-agents" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "node-exporter" } } }], ports: [{ protocol: "TCP", port: 9100 }] },
    ]);
    const bindings = prod.all("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").map((b) => prod.revealed(b) as unknown as { metadata: { namespace: string }; subjects: unknown[] });
    expect(bindings.find((b) => b.metadata.namespace === "fundament-prod-node-agents")!.subjects).toEqual([{ kind: "ServiceAccount", name: "prometheus", namespace: "fundament-prod" }]);
  });

  it("on Kubernetes: kube-state-metrics from its pinned chart, in the monitoring zone of the platform namespace, reachable from it on 8080", () => {
    type Release = { chart: string; version: string; namespace: string; repositoryOpts: { repo: string }; values: Record<string, unknown> };
    const release = prod.all("kubernetes:helm.sh/v3:Release").map((r) => prod.revealed(r) as unknown as Release).find((r) => r.chart === "kube-state-metrics")!;
    expect(release.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(release.repositoryOpts.repo).toBe("https://prometheus-community.github.io/helm-charts");
    expect(release.namespace).toBe("fundament-prod");
    expect(release.values.podLabels).toEqual({ "fundament.io/zone-monitoring": "true", "fundament.io/kubernetes-api": "true", "fundament.io/role": "exporter" });
    expect(release.values.fullnameOverride).toBe("kube-state-metrics");
    const ingress = policies().find((p) => p.metadata.name === "kube-state-metrics-ingress")!;
    expect(ingress.metadata.namespace).toBe("fundament-prod");
    expect(ingress.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { "fundament.io/zone-monitoring": "true" } } }], ports: [{ protocol: "TCP", port: 8080 }] }]);
    const job = prodScrapeJobs().find((j) => j.job_name === "kube-state-metrics")!;
    expect(job.relabel_configs).toContainEqual({ source_labels: ["__meta_kubernetes_pod_container_port_number"], regex: "8080", action: "keep" });
    for (const [label, value] of Object.entries({ service: "kube-state-metrics", zone: "monitoring", environment: "prod", role: "exporter" })) {
      expect(job.relabel_configs).toContainEqual({ target_label: label, replacement: value });
    }
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
