import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isSecretMarker, RecordedResource } from "../../scripts/mock-engine";
import { isApiObject, prepareSchemas, schemaProblem } from "./kubernetes-objects";
import { runStack, secretLeaks, StackView } from "./stack-run";

let prod: StackView;
beforeAll(async () => {
  prod = await runStack("prod");
});

type PodSpec = {
  containers: {
    name: string;
    readinessProbe?: unknown;
    livenessProbe?: unknown;
    resources: { requests: Record<string, string>; limits: Record<string, string> };
    securityContext: { allowPrivilegeEscalation: boolean; privileged: boolean; capabilities: { drop: string[] } };
    env?: { name: string; value?: string }[];
  }[];
  securityContext: { seccompProfile: { type: string } };
  automountServiceAccountToken: boolean;
  serviceAccountName?: string;
};

const CONTROLLERS = ["kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"];

function controllers(): RecordedResource[] {
  return prod.resources.filter((r) => CONTROLLERS.includes(r.type));
}

function podSpec(resource: RecordedResource): PodSpec {
  return (prod.revealed(resource).spec as { template: { spec: PodSpec } }).template.spec;
}

function labels(resource: RecordedResource): Record<string, string> {
  return (prod.revealed(resource).metadata as { labels: Record<string, string> }).labels;
}

describe("prod stack on Kubernetes", () => {
  it("runs the data services as StatefulSets with volume claims, in the configured namespace", () => {
    for (const name of ["postgres", "redis", "mongo", "rabbitmq", "minio"]) {
      const set = prod.one("kubernetes:apps/v1:StatefulSet", name);
      const spec = prod.revealed(set).spec as { volumeClaimTemplates: unknown[] };
      expect(spec.volumeClaimTemplates.length, name).toBeGreaterThan(0);
      expect((prod.revealed(set).metadata as { namespace: string }).namespace).toBe("fundament-prod");
    }
  });

  it("mounts PostgreSQL's TLS key from a Secret, 0400 and owned through fsGroup by the server's group (root-owned 0440 after the kubelet, which PostgreSQL accepts)", () => {
    type Pod = {
      securityContext: { fsGroup?: number };
      volumes: { name: string; secret?: { items: { key: string; mode?: number }[] } }[];
      containers: { name: string; securityContext: { runAsUser?: number }; volumeMounts: { name: string; mountPath: string; subPath?: string }[] }[];
    };
    const pod = (prod.revealed(prod.one("kubernetes:apps/v1:StatefulSet", "postgres")).spec as { template: { spec: Pod } }).template.spec;
    expect(pod.securityContext.fsGroup).toBe(999);
    const server = pod.containers.find((c) => c.name === "postgres")!;
    expect(server.securityContext.runAsUser).toBe(999);
    const mount = server.volumeMounts.find((m) => m.mountPath === "/etc/postgresql/tls/tls.key")!;
    const secretVolume = pod.volumes.find((v) => v.name === mount.name)!.secret!;
    expect(secretVolume.items.find((i) => i.key === mount.subPath)!.mode).toBe(0o400);
    // The leaf carries the names clients dial inside the cluster.
    const dnsNames = prod.revealed(prod.one("tls:index/certRequest:CertRequest", "postgres-tls-csr")).dnsNames as string[];
    expect(dnsNames).toEqual(expect.arrayContaining(["postgres", "postgres.fundament-prod.svc.cluster.local"]));
  });

  it("gives every workload probes, requests equal to limits and a hardened securityContext", () => {
    expect(controllers().length).toBeGreaterThanOrEqual(10);
    for (const controller of controllers()) {
      const spec = podSpec(controller);
      expect(spec.securityContext.seccompProfile.type, controller.name).toBe("RuntimeDefault");
      // Only a workload that calls the Kubernetes API gets a token, and then its own ServiceAccount's.
      // (gpu-jobs launches Jobs; Prometheus lists pods to discover its targets.)
      const callsApi = ["gpu-jobs", "prometheus"].includes(controller.name);
      expect(spec.automountServiceAccountToken, controller.name).toBe(callsApi);
      expect(spec.serviceAccountName, controller.name).toBe(callsApi ? controller.name : undefined);
      for (const container of spec.containers) {
        expect(container.readinessProbe, controller.name).toBeDefined();
        expect(container.livenessProbe, controller.name).toBeDefined();
        expect(container.resources.limits.memory, controller.name).toMatch(/^\d+Mi$/);
        expect(container.resources.requests).toEqual(container.resources.limits);
        expect(container.securityContext.allowPrivilegeEscalation, controller.name).toBe(false);
        expect(container.securityContext.privileged, controller.name).toBe(false);
        expect(container.securityContext.capabilities.drop, controller.name).toEqual(["ALL"]);
      }
    }
  });

  it("labels data services with backend only and exporters with backend and monitoring", () => {
    for (const controller of controllers()) {
      const l = labels(controller);
      const zones = Object.keys(l).filter((k) => k.startsWith("fundament.io/zone-")).map((k) => k.slice("fundament.io/zone-".length)).sort();
      // RabbitMQ, MinIO and Consul serve their own metrics, so they join monitoring for the scrape.
      const selfMonitored = ["rabbitmq", "minio", "consul"].includes(controller.name);
      if (l["fundament.io/role"] === "data") expect(zones, controller.name).toEqual(selfMonitored ? ["backend", "monitoring"] : ["backend"]);
      if (l["fundament.io/role"] === "exporter") expect(zones, controller.name).toEqual(["backend", "monitoring"]);
    }
  });

  it("gives every workload a PodDisruptionBudget selecting it, which lets a drain move pods that are not ready", () => {
    type BudgetSpec = { selector: { matchLabels: Record<string, string> }; unhealthyPodEvictionPolicy?: string };
    const specs = prod.all("kubernetes:policy/v1:PodDisruptionBudget").map((p) => prod.revealed(p).spec as BudgetSpec);
    const budgets = specs.map((spec) => spec.selector.matchLabels["app.kubernetes.io/name"]);
    for (const controller of controllers()) expect(budgets, controller.name).toContain(labels(controller)["app.kubernetes.io/name"]);
    for (const spec of specs) expect(spec.unhealthyPodEvictionPolicy, spec.selector.matchLabels["app.kubernetes.io/name"]).toBe("AlwaysAllow");
  });

  it("spreads the autoscaled services' replicas over nodes and zones, counting only the nodes they may run on", () => {
    type Spread = { topologyKey: string; whenUnsatisfiable: string; labelSelector: { matchLabels: Record<string, string> }; nodeTaintsPolicy: string };
    const scaled = prod.all("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").map((hpa) => (prod.revealed(hpa).spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name);
    expect(scaled.sort()).toEqual(["config", "gpu-jobs", "users"]);
    for (const name of scaled) {
      const deployment = controllers().find((controller) => labels(controller)["app.kubernetes.io/name"] === name);
      const spreads = (podSpec(deployment!) as PodSpec & { topologySpreadConstraints?: Spread[] }).topologySpreadConstraints ?? [];
      expect(spreads.map((spread) => spread.topologyKey), name).toEqual(["kubernetes.io/hostname", "topology.kubernetes.io/zone"]);
      for (const spread of spreads) {
        expect(spread.labelSelector.matchLabels).toEqual({ "app.kubernetes.io/name": name });
        // Soft: twelve replicas on three nodes must still schedule; the GPU pools' taints keep those nodes out of the skew.
        expect([spread.whenUnsatisfiable, spread.nodeTaintsPolicy]).toEqual(["ScheduleAnyway", "Honor"]);
      }
    }
    // A single-replica server has nothing to spread; a changed pod template would only restart it.
    const postgres = controllers().find((controller) => labels(controller)["app.kubernetes.io/name"] === "postgres");
    expect((podSpec(postgres!) as PodSpec & { topologySpreadConstraints?: Spread[] }).topologySpreadConstraints).toBeUndefined();
  });

  it("denies all traffic by default, lets zone members send to each other and each workload admit its own ports", () => {
    const metadata = prod.all("kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => prod.revealed(p).metadata as { name: string; namespace: string });
    const inNamespace = (namespace: string) => metadata.filter((m) => m.namespace === namespace).map((m) => m.name).sort();
    const withPorts = [...prod.all("kubernetes:apps/v1:Deployment"), ...prod.all("kubernetes:apps/v1:StatefulSet")].map((c) => `${c.name}-ingress`);
    // kube-state-metrics (a chart) gets its ingress policy beside the chart; the monitoring zone one more egress, to the node agents.
    expect(inNamespace("fundament-prod")).toEqual(["allow-dns", "allow-kubernetes-api", "default-deny", "zone-backend", "zone-frontend", "zone-monitoring", ...withPorts, "kube-state-metrics-ingress", "monitoring-to-node-agents"].sort());
    // The node agents' namespace: its own default-deny, the platform's monitoring zone admitted, and the runtime's zone policy of the DaemonSet.
    expect(inNamespace("fundament-prod-node-agents")).toEqual(["default-deny", "node-exporter-from-monitoring", "node-exporter-ingress"]);
    expect(metadata).toHaveLength(inNamespace("fundament-prod").length + inNamespace("fundament-prod-node-agents").length);
  });

  it("schedules backups and their upload as CronJobs sharing one claim", () => {
    const claimOf = (name: string) =>
      ((prod.revealed(prod.one("kubernetes:batch/v1:CronJob", name)).spec as { jobTemplate: { spec: { template: { spec: { volumes: { persistentVolumeClaim?: { claimName: string; readOnly?: boolean } }[] } } } } })
        .jobTemplate.spec.template.spec.volumes.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim);
    expect(claimOf("postgres-backup")).toEqual({ claimName: "postgres-backup-backups", readOnly: false });
    expect(claimOf("postgres-backup-upload")).toEqual({ claimName: "postgres-backup-backups", readOnly: true });
    const claim = prod.one("kubernetes:core/v1:PersistentVolumeClaim", "postgres-backup-backups");
    expect((prod.revealed(claim).spec as { resources: { requests: { storage: string } } }).resources.requests.storage).toBe("200Gi");
  });

  it("exposes no Service outside the cluster but the gateway's load balancer", () => {
    for (const service of prod.all("kubernetes:core/v1:Service")) {
      expect((prod.revealed(service).spec as { type: string }).type, service.name).toBe(service.name === "gateway-public" ? "LoadBalancer" : "ClusterIP");
    }
  });

  it("keeps secrets in Secrets: no generated secret in a ConfigMap, env value or plain output", () => {
    expect(secretLeaks(prod)).toEqual([]);
    for (const secret of prod.all("kubernetes:core/v1:Secret")) {
      expect(JSON.stringify(secret.inputs.stringData ?? secret.inputs.data)).toContain("1b47061264138c4ac30d75fd1eb44270");
    }
  });

  it("emits only objects valid against the Kubernetes OpenAPI schema, unknown fields rejected", async () => {
    const kubernetes = prod.resources.filter(isApiObject);
    await prepareSchemas(kubernetes);
    expect(kubernetes.length).toBeGreaterThan(30);
    const problems = kubernetes.map((r) => [r.name, schemaProblem(r, prod.revealed(r))]).filter(([, p]) => p !== undefined);
    expect(problems).toEqual([]);
  });
});

describe("services on the prod stack", () => {
  it.each(["users", "config"])("runs %s as a Deployment its HPA scales from 3, from its ECR image, with secrets mounted from a Secret", (service) => {
    const deployment = prod.revealed(prod.one("kubernetes:apps/v1:Deployment", service));
    const spec = deployment.spec as { replicas?: number; template: { spec: { containers: { image: string; env: { name: string; value: string }[]; volumeMounts: { mountPath: string; readOnly: boolean }[]; securityContext: { readOnlyRootFilesystem: boolean; runAsUser: number } }[]; volumes: { secret?: { secretName: string } }[] } } };
    // The HPA owns the count (from its minimum, 3); the Deployment states none, so an update never resets it.
    expect(spec.replicas).toBeUndefined();
    const hpa = prod.all("kubernetes:autoscaling/v2:HorizontalPodAutoscaler").map((r) => prod.revealed(r).spec as { scaleTargetRef: { name: string }; minReplicas: number }).find((h) => h.scaleTargetRef.name === service);
    expect(hpa?.minReplicas).toBe(3);
    const [container] = spec.template.spec.containers;
    expect(container.image).toMatch(new RegExp(`dkr\\.ecr\\..*/fundament/prod/${service}(:|@)`));
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsUser: 1000 });
    const fileVariables = container.env.filter((e) => e.name.endsWith("_FILE")).map((e) => e.value);
    expect(fileVariables.length).toBeGreaterThanOrEqual(3);
    for (const path of fileVariables) expect(container.volumeMounts.find((m) => m.mountPath === path)?.readOnly).toBe(true);
    expect(spec.template.spec.volumes.some((v) => v.secret)).toBe(true);
  });

  it.each(["users", "config", "gpu-jobs"])("serves %s over HTTPS with its leaf: key from a Secret item 0400, probes with scheme HTTPS, JWKS fetched over https", (service) => {
    type Pod = {
      securityContext: { fsGroup?: number };
      volumes: { name: string; secret?: { items: { key: string; mode?: number }[] }; configMap?: { items: { key: string; mode?: number }[] } }[];
      containers: {
        env: { name: string; value: string }[];
        volumeMounts: { name: string; mountPath: string; subPath?: string }[];
        startupProbe: { httpGet: { scheme?: string; path: string; port: number } };
        readinessProbe: { httpGet: { scheme?: string; path: string; port: number } };
        livenessProbe: { httpGet: { scheme?: string; path: string; port: number } };
      }[];
    };
    const pod = (prod.revealed(prod.one("kubernetes:apps/v1:Deployment", service)).spec as { template: { spec: Pod } }).template.spec;
    const [container] = pod.containers;
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ TLS_CERT_FILE: "/etc/fundament/tls/tls.crt", TLS_KEY_FILE: "/run/secrets/tls.key" });
    const itemOf = (path: string) => {
      const mount = container.volumeMounts.find((m) => m.mountPath === path)!;
      const volume = pod.volumes.find((v) => v.name === mount.name)!;
      return { secret: volume.secret !== undefined, mode: (volume.secret ?? volume.configMap)!.items.find((i) => i.key === mount.subPath)!.mode };
    };
    // The key only in the Secret, readable by its owner (the service's group through fsGroup); the certificate public.
    expect(itemOf("/run/secrets/tls.key")).toEqual({ secret: true, mode: 0o400 });
    expect(itemOf("/etc/fundament/tls/tls.crt")).toEqual({ secret: false, mode: 0o444 });
    expect(pod.securityContext.fsGroup).toBe(1000);
    // The kubelet probes over HTTPS (it does not verify: the Docker probe and every client do).
    for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) expect(probe.httpGet).toMatchObject({ scheme: "HTTPS", port: 8080 });
    // The leaf carries the names clients in the cluster dial, the gateway's and Prometheus' server name first.
    const dnsNames = prod.revealed(prod.one("tls:index/certRequest:CertRequest", `${service}-tls-csr`)).dnsNames as string[];
    expect(dnsNames).toEqual([service, `${service}.fundament-prod`, `${service}.fundament-prod.svc`, `${service}.fundament-prod.svc.cluster.local`]);
    if (service !== "users") expect(env).toMatchObject({ JWKS_URL: "https://users:8080/.well-known/jwks.json", JWKS_CA_FILE: "/etc/fundament/tls/ca.crt" });
  });

  it("keeps service images in encrypted, immutable ECR repositories that scan on push", () => {
    for (const service of ["users", "config"]) {
      const repository = prod.revealed(prod.one("aws:ecr/repository:Repository", `${service}-image-repository`));
      expect(repository).toMatchObject({ imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true } });
    }
  });
});

describe("Consul on the prod stack", () => {
  const secretData = (name: string): Record<string, string> => {
    const secret = prod.one("kubernetes:core/v1:Secret", name);
    return (prod.revealed(secret).stringData ?? prod.revealed(secret).data) as Record<string, string>;
  };

  it("runs three servers as a StatefulSet spread over nodes, with a budget that keeps the quorum, found through a headless Service", () => {
    const statefulSet = prod.revealed(prod.one("kubernetes:apps/v1:StatefulSet", "consul")) as {
      spec: { replicas: number; template: { spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { topologyKey: string }[] } } } } };
    };
    expect(statefulSet.spec.replicas).toBe(3);
    expect(statefulSet.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe("kubernetes.io/hostname");
    const budget = prod.all("kubernetes:policy/v1:PodDisruptionBudget").map((p) => prod.revealed(p).spec as { maxUnavailable?: number; selector: { matchLabels: Record<string, string> } }).find((s) => s.selector.matchLabels["app.kubernetes.io/name"] === "consul");
    expect(budget?.maxUnavailable).toBe(1);
    const config = JSON.parse((prod.revealed(prod.one("kubernetes:core/v1:ConfigMap", "consul-files")).data as Record<string, string>)["consul_config_10-server.json"]) as { bootstrap_expect: number; retry_join: string[]; services: { name: string }[] };
    expect(config.bootstrap_expect).toBe(3);
    expect(config.retry_join).toEqual(["consul"]);
    expect(config.services.map((s) => s.name)).toEqual(expect.arrayContaining(["postgres", "redis", "rabbitmq", "gateway", "prometheus"]));
    const service = prod.revealed(prod.one("kubernetes:core/v1:Service", "consul")).spec as { clusterIP?: string; ports: { port: number; protocol: string }[] };
    expect(service.clusterIP).toBe("None");
    // DNS and gossip speak UDP as well as TCP: the Service, the pods and the zone policy carry both.
    expect(service.ports.filter((p) => p.protocol === "UDP").map((p) => p.port).sort()).toEqual([8301, 8600]);
    const ingress = prod.revealed(prod.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "consul-ingress")).spec as { ingress: { from: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number; protocol: string }[] }[] };
    const fromBackend = ingress.ingress.find((rule) => rule.from[0].podSelector?.matchLabels["fundament.io/zone-backend"] === "true")!;
    expect(fromBackend.ports).toEqual(expect.arrayContaining([{ port: 8301, protocol: "UDP" }, { port: 8301, protocol: "TCP" }, { port: 8600, protocol: "UDP" }]));
  });

  it("admits the Consul servers to each catalogued workload's check port, and nobody else beyond the zone rule (the gateway's ping)", () => {
    const ingress = prod.revealed(prod.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "gateway-ingress")).spec as { ingress: { from: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[] };
    const fromConsul = ingress.ingress.filter((rule) => rule.from.some((f) => f.podSelector?.matchLabels["app.kubernetes.io/name"] === "consul"));
    expect(fromConsul.map((rule) => rule.ports.map((p) => p.port))).toEqual([[8082]]);
    const pingElsewhere = ingress.ingress.filter((rule) => !fromConsul.includes(rule) && rule.ports.some((p) => p.port === 8082));
    expect(pingElsewhere).toEqual([]);
  });

  it.each(["users", "config"])("gives %s Consul's address and its token, CA and client certificate as files from a Secret", (service) => {
    const [container] = (prod.revealed(prod.one("kubernetes:apps/v1:Deployment", service)).spec as { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } }).template.spec.containers;
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    expect(env.CONSUL_HTTP_ADDR).toBe("https://consul:8501");
    // On Kubernetes each pod registers its own address.
    expect(env.CONSUL_SERVICE_ADDRESS).toBeUndefined();
    for (const variable of ["CONSUL_HTTP_TOKEN", "CONSUL_CLIENT_KEY"]) {
      expect(env[variable], variable).toBeUndefined();
      expect(env[`${variable}_FILE`], variable).toMatch(/^\/run\/secrets\//);
    }
    const token = secretData(`${service}-secrets`)["run_secrets_consul-token"];
    expect(prod.generatedSecrets.has(token)).toBe(true);
  });

  it("gives the gateway's consulCatalog provider Traefik's token in its secret static file, and Prometheus a consul job with a token file", () => {
    const gateway = secretData("gateway-secrets");
    const endpoint = (parse(gateway["etc_traefik_traefik.yml"]) as { providers: { consulCatalog: { exposedByDefault: boolean; endpoint: { address: string; token: string; tls: { cert: string } } } } }).providers.consulCatalog;
    expect(endpoint.exposedByDefault).toBe(false);
    expect(endpoint.endpoint).toMatchObject({ address: "consul:8501", tls: { cert: "/etc/traefik/tls/consul-client.crt" } });
    expect(prod.generatedSecrets.has(endpoint.endpoint.token)).toBe(true);
    expect(gateway["run_secrets_gateway_consul-client.key"]).toMatch(/PRIVATE KEY/);
    const map = prod.all("kubernetes:core/v1:ConfigMap").find((m) => (prod.revealed(m).metadata as { labels: Record<string, string> }).labels["app.kubernetes.io/name"] === "prometheus")!;
    const jobs = (parse((prod.revealed(map).data as Record<string, string>)["etc_prometheus_prometheus.yml"]) as { scrape_configs: { job_name: string; scheme?: string; authorization?: { credentials_file: string } }[] }).scrape_configs;
    const consul = jobs.find((j) => j.job_name === "consul")!;
    expect(consul.scheme).toBe("https");
    expect(consul.authorization?.credentials_file).toBe("/etc/prometheus/consul/token");
    expect(prod.generatedSecrets.has(secretData("prometheus-secrets").etc_prometheus_consul_token)).toBe(true);
  });

  it("outputs the bootstrap token as a secret and the UI's URL in plain text", () => {
    expect(isSecretMarker(prod.outputs.consulBootstrapToken)).toBe(true);
    expect(prod.outputs.consul).toEqual({ apiUrl: "https://consul:8501", servers: 3, uiUrl: "https://consul.platform.example.com/" });
  });
});
