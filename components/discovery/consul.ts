import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CONSUL_IMAGE } from "../config/server-versions";
import type { DeployedWorkload, Endpoint, Job, MetricsAccess, Probe, Runtime, Workload, WorkloadFile, WorkloadResources, WorkloadRoute } from "../runtime/workload";
import { CatalogRegistry } from "./catalog-entries";
import { ConsulConsumer, consumerPolicy, NamedPolicy, PolicyContext, serverPolicy, ServerTokenRole } from "./consul-acl";
import { ACL_JOB_DIR, ACL_JOB_HEADER_PATH, AclJobToken, policyBodyPath, renderAclJobScript, renderManagementHeader, renderPolicyBody, renderTokenBody, tokenBodyPath } from "./consul-acl-job";
import {
  CONSUL_CA_PATH,
  CONSUL_CERT_PATH,
  CONSUL_CONFIG_DIR,
  CONSUL_DATA_DIR,
  CONSUL_KEY_PATH,
  CONSUL_PORTS,
  renderConsulSecretConfig,
  renderConsulServerConfig,
} from "./consul-config";

export { CONSUL_IMAGE };

/** The consul user of the official image (Alpine `adduser -S` gives uid 100; `addgroup consul` gid 1000). */
export const CONSUL_IMAGE_USER = { uid: 100, gid: 1000 };

/** The certificate and key a Consul workload presents, and the CA it verifies the others with (PEM). */
export interface ConsulTlsFiles {
  ca: pulumi.Input<string>;
  cert: pulumi.Input<string>;
  key: pulumi.Input<string>;
}

export interface ConsulArgs {
  runtime: Runtime;
  /** Whose notes become the servers' infrastructure services (every layer deploys through it). */
  catalog: CatalogRegistry;
  image: string;
  /** 1 (dev) or 3 (prod): an odd number, so a quorum survives the loss of one in three. */
  servers: number;
  datacenter: string;
  resources: WorkloadResources;
  storageGiB: number;
  /**
   * From the platform PKI. The servers' certificate must carry `server.<datacenter>.consul`
   * (verify_server_hostname) and the name clients dial (`consul`); the ACL job presents its own.
   */
  tls: { server: ConsulTlsFiles; aclJob: ConsulTlsFiles };
  consumers: ConsulConsumer[];
  /** Prometheus's client certificate: with it, the servers declare their metrics, scraped with the prometheus consumer's token. */
  prometheusTls?: ConsulTlsFiles;
  /** The UI through the gateway (an admin route on the https port, behind its basic auth). */
  route?: WorkloadRoute;
}

/** Where Prometheus keeps what it scrapes Consul with. */
export const PROMETHEUS_CONSUL_DIR = "/etc/prometheus/consul";

/** What a consumer needs to talk to Consul: its token (secret) and where the API is. */
export interface ConsulClient {
  /** https://consul:8501 */
  apiUrl: string;
  token: pulumi.Output<string>;
}

export const CONSUL_NAME = "consul";
export const CONSUL_API_URL = `https://${CONSUL_NAME}:${CONSUL_PORTS.https}`;

/** Node names of the servers: the container's fixed name on Docker, the StatefulSet's pod names on Kubernetes. */
export function consulServerNodes(target: "docker" | "kubernetes", servers: number): string[] {
  return target === "docker" ? [CONSUL_NAME] : Array.from({ length: servers }, (_, ordinal) => `${CONSUL_NAME}-${ordinal}`);
}

/** A UUID from 16 random bytes (the accessor IDs: identifiers, not secrets). */
function uuidOf(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Probes run inside the container with the image's curl, presenting the server's own certificate (verify_incoming). */
function apiProbe(periodSeconds: number, failureThreshold: number): Probe {
  return {
    kind: "exec",
    command: [
      "curl",
      "-fsS",
      "-o",
      "/dev/null",
      "--cacert",
      CONSUL_CA_PATH,
      "--cert",
      CONSUL_CERT_PATH,
      "--key",
      CONSUL_KEY_PATH,
      // The certificate names `consul`, not the loopback address the probe dials.
      "--resolve",
      `${CONSUL_NAME}:${CONSUL_PORTS.https}:127.0.0.1`,
      // Answers `""` before a leader exists: a server is ready once its API is, so the next
      // StatefulSet pod can start and the quorum form.
      `${CONSUL_API_URL}/v1/status/leader`,
    ],
    periodSeconds,
    timeoutSeconds: 5,
    failureThreshold,
  };
}

/** The server workload: pure, so tests read exactly what the runtime is asked for. */
export function consulServerWorkload(args: Pick<ConsulArgs, "image" | "servers" | "resources" | "storageGiB" | "route">, files: WorkloadFile[], metrics?: MetricsAccess): Workload {
  return {
    name: CONSUL_NAME,
    role: "data",
    image: args.image,
    // The entrypoint turns `agent` into `consul agent -data-dir=/consul/data -config-dir=/consul/config`.
    args: ["agent"],
    // Started as the consul user: the entrypoint's chown and su-exec are skipped (docker-entrypoint.sh).
    env: { CONSUL_DISABLE_PERM_MGMT: "true" },
    user: CONSUL_IMAGE_USER,
    readOnlyRootFilesystem: true,
    // Backend, where the services register and discover and the data servers it checks live, and
    // monitoring, where the gateway reads the catalogue and routes the UI, Prometheus scrapes, and
    // the monitoring workloads it checks live. Both are internal: Consul has no route out, and it
    // is on no network the gateway publishes from (components/network/zones.ts: the checks).
    zones: ["backend", "monitoring"],
    ports: [
      { name: "https", port: CONSUL_PORTS.https, publish: "gateway", zones: ["backend", "monitoring"] },
      // DNS answers over UDP and, for long answers, TCP; gossip probes over UDP and syncs over TCP.
      { name: "dns", port: CONSUL_PORTS.dns, udp: true, zones: ["backend"] },
      { name: "server", port: CONSUL_PORTS.server, zones: ["backend"] },
      { name: "serf-lan", port: CONSUL_PORTS.serfLan, udp: true, zones: ["backend"] },
    ],
    files,
    health: { startup: apiProbe(2, 60), readiness: apiProbe(5, 3), liveness: apiProbe(10, 6) },
    resources: args.resources,
    storage: [{ name: "data", path: CONSUL_DATA_DIR, sizeGiB: args.storageGiB }],
    replicas: args.servers,
    spreadReplicas: true,
    peerDiscovery: true,
    ...(metrics ? { metrics: { port: CONSUL_PORTS.https, path: "/v1/agent/metrics", access: metrics } } : {}),
    ...(args.route ? { route: args.route } : {}),
    // A server that leaves on SIGTERM tells its peers (leave_on_terminate is false for servers: it just stops).
    stopGracePeriodSeconds: 30,
  };
}

/**
 * Consul: the servers (one on Docker, three spread over nodes on Kubernetes), ACLs with a
 * generated bootstrap token and a least-privilege token per consumer, gossip encryption, TLS
 * from the platform PKI, the UI, DNS on 8600, and a catalogue of every infrastructure workload
 * with checks from its readiness probe.
 */
export class Consul extends pulumi.ComponentResource {
  readonly workload: DeployedWorkload;
  readonly aclJob: DeployedWorkload;
  /** The initial management token: full access, for operators (a secret stack output). */
  readonly bootstrapToken: pulumi.Output<string>;
  /** Per consumer name: its token (secret). */
  readonly tokens: Record<string, pulumi.Output<string>>;
  readonly policies: pulumi.Output<NamedPolicy[]>;
  readonly apiUrl = CONSUL_API_URL;
  /** Where the gateway sends the UI (HTTPS, verified against the platform CA). */
  readonly uiEndpoint: pulumi.Output<Endpoint>;

  constructor(name: string, args: ConsulArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:discovery:Consul", name, {}, opts);
    const problems: string[] = [];
    const names = new Set<string>();
    for (const consumer of args.consumers) {
      if (names.has(consumer.name)) problems.push(`consumers: ${consumer.name} appears twice`);
      names.add(consumer.name);
    }
    if (!Number.isInteger(args.servers) || args.servers < 1 || args.servers % 2 === 0) problems.push(`servers: must be an odd number of at least 1 (got ${args.servers})`);
    if (problems.length > 0) throw new Error(`consul:\n${problems.join("\n")}`);

    const parent = { parent: this };
    // Secrets: SecretIDs and the gossip key. RandomUuid's result is not marked secret by the provider.
    const secretUuid = (id: string) => pulumi.secret(new random.RandomUuid(`${name}-${id}-secret`, {}, { ...parent, additionalSecretOutputs: ["result"] }).result);
    const accessor = (id: string) => new random.RandomId(`${name}-${id}-accessor`, { byteLength: 16 }, parent).hex.apply(uuidOf);
    this.bootstrapToken = secretUuid("bootstrap");
    const gossipKey = new random.RandomBytes(`${name}-gossip-key`, { length: 32 }, parent).base64;

    const serverNodes = consulServerNodes(args.runtime.target, args.servers);
    const serverRoles: ServerTokenRole[] = ["agent", "dns", "registration"];
    const serverTokens = Object.fromEntries(serverRoles.map((role) => [role, { secret: secretUuid(role), accessor: accessor(role) }])) as Record<ServerTokenRole, { secret: pulumi.Output<string>; accessor: pulumi.Output<string> }>;
    const consumerTokens = Object.fromEntries(args.consumers.map((c) => [c.name, { secret: secretUuid(c.name), accessor: accessor(c.name) }]));
    this.tokens = Object.fromEntries(Object.entries(consumerTokens).map(([consumer, token]) => [consumer, token.secret]));

    // Read when the inputs resolve, after every layer described its workloads (catalog-entries.ts).
    const entries = pulumi.output(serverNodes).apply(() => args.catalog.entries.filter((entry) => entry.name !== CONSUL_NAME && !entry.name.startsWith(`${CONSUL_NAME}-`)));
    const context: pulumi.Output<PolicyContext> = entries.apply((list) => ({ serverNodes, infrastructureServices: list.map((e) => e.name) }));
    this.policies = context.apply((ctx) => [...serverRoles.map((role) => serverPolicy(role, ctx)), ...args.consumers.map((c) => consumerPolicy(c, ctx))]);

    const serverConfig = entries.apply((services) =>
      renderConsulServerConfig({
        datacenter: args.datacenter,
        servers: args.servers,
        ...(args.runtime.target === "docker" ? { nodeName: CONSUL_NAME } : {}),
        // Every server's address behind one name (the Service has no virtual IP: peerDiscovery).
        retryJoin: args.servers > 1 ? [CONSUL_NAME] : [],
        prometheusRetentionSeconds: 60,
        services,
      }),
    );
    const secretConfig = pulumi.secret(
      pulumi.all([gossipKey, this.bootstrapToken, serverTokens.agent.secret, serverTokens.dns.secret, serverTokens.registration.secret]).apply(([key, bootstrap, agent, dns, registration]) =>
        renderConsulSecretConfig({ gossipKey: key, initialManagementToken: bootstrap, agentToken: agent, dnsToken: dns, registrationToken: registration }),
      ),
    );
    const tlsFiles = (tls: ConsulTlsFiles): WorkloadFile[] => [
      { path: CONSUL_CA_PATH, content: tls.ca },
      { path: CONSUL_CERT_PATH, content: tls.cert },
      { path: CONSUL_KEY_PATH, content: pulumi.secret(tls.key), secret: true, mode: 0o400 },
    ];
    const prometheus = args.consumers.find((c) => c.kind === "prometheus");
    const metrics: MetricsAccess | undefined =
      prometheus && args.prometheusTls
        ? {
            params: { format: ["prometheus"] },
            serverName: CONSUL_NAME,
            caFile: `${PROMETHEUS_CONSUL_DIR}/ca.pem`,
            certFile: `${PROMETHEUS_CONSUL_DIR}/client.pem`,
            keyFile: `${PROMETHEUS_CONSUL_DIR}/client-key.pem`,
            credentialsFile: `${PROMETHEUS_CONSUL_DIR}/token`,
            files: [
              { path: `${PROMETHEUS_CONSUL_DIR}/ca.pem`, content: args.prometheusTls.ca },
              { path: `${PROMETHEUS_CONSUL_DIR}/client.pem`, content: args.prometheusTls.cert },
              { path: `${PROMETHEUS_CONSUL_DIR}/client-key.pem`, content: pulumi.secret(args.prometheusTls.key), secret: true, mode: 0o400 },
              { path: `${PROMETHEUS_CONSUL_DIR}/token`, content: consumerTokens[prometheus.name].secret, secret: true, mode: 0o400 },
            ],
          }
        : undefined;
    this.workload = args.runtime.deploy(
      consulServerWorkload(args, [
        { path: `${CONSUL_CONFIG_DIR}/10-server.json`, content: serverConfig },
        { path: `${CONSUL_CONFIG_DIR}/20-secrets.json`, content: secretConfig, secret: true, mode: 0o400 },
        ...tlsFiles(args.tls.server),
      ], metrics),
      parent,
    );
    this.uiEndpoint = this.workload.endpoint("https");

    const roleTokens: { id: string; policy: (ctx: PolicyContext) => string; token: { secret: pulumi.Output<string>; accessor: pulumi.Output<string> } }[] = [
      ...serverRoles.map((role) => ({ id: `consul-${role}`, policy: (ctx: PolicyContext) => serverPolicy(role, ctx).name, token: serverTokens[role] })),
      ...args.consumers.map((c) => ({ id: c.name, policy: (ctx: PolicyContext) => consumerPolicy(c, ctx).name, token: consumerTokens[c.name] })),
    ];
    const jobTokens: pulumi.Output<AclJobToken[]> = pulumi
      .all([context, pulumi.all(roleTokens.map((t) => t.token.accessor))])
      .apply(([ctx, accessors]) => roleTokens.map((t, index) => ({ name: t.id, accessorId: accessors[index], policy: t.policy(ctx) })));
    const script = pulumi.all([this.policies, jobTokens]).apply(([policies, tokens]) =>
      renderAclJobScript({ apiUrl: CONSUL_API_URL, caPath: CONSUL_CA_PATH, certPath: CONSUL_CERT_PATH, keyPath: CONSUL_KEY_PATH, policies, tokens, leaderTimeoutSeconds: 300 }),
    );
    // Policy names are fixed by role; their rules resolve with the catalogue.
    const policyFiles: WorkloadFile[] = [
      ...serverRoles.map((role) => ({ name: serverPolicy(role, { serverNodes, infrastructureServices: [] }).name, body: context.apply((ctx) => renderPolicyBody(serverPolicy(role, ctx))) })),
      ...args.consumers.map((c) => ({ name: consumerPolicy(c, { serverNodes, infrastructureServices: [] }).name, body: context.apply((ctx) => renderPolicyBody(consumerPolicy(c, ctx))) })),
    ].map((p) => ({ path: policyBodyPath(p.name), content: p.body }));
    const tokenFiles: WorkloadFile[] = roleTokens.map((t) => ({
      path: tokenBodyPath(t.id),
      content: pulumi.secret(pulumi.all([context, t.token.accessor, t.token.secret]).apply(([ctx, accessorId, secretId]) => renderTokenBody({ name: t.id, accessorId, policy: t.policy(ctx) }, secretId))),
      secret: true,
      mode: 0o400,
    }));
    const job: Job = {
      name: `${CONSUL_NAME}-acl`,
      role: "job",
      image: args.image,
      command: ["/bin/sh", `${ACL_JOB_DIR}/apply.sh`],
      user: CONSUL_IMAGE_USER,
      readOnlyRootFilesystem: true,
      zones: ["backend"],
      files: [
        { path: `${ACL_JOB_DIR}/apply.sh`, content: script },
        { path: ACL_JOB_HEADER_PATH, content: pulumi.secret(this.bootstrapToken.apply(renderManagementHeader)), secret: true, mode: 0o400 },
        ...policyFiles,
        ...tokenFiles,
        ...tlsFiles(args.tls.aclJob),
      ],
      resources: { cpu: 0.1, memoryMiB: 64 },
      stopGracePeriodSeconds: 10,
      backoffLimit: 6,
      dependsOn: [this.workload],
    };
    this.aclJob = args.runtime.run(job, parent);
    this.registerOutputs({ bootstrapToken: this.bootstrapToken, uiEndpoint: this.uiEndpoint });
  }

  /** The token a consumer was given; throws for a name that is not a consumer. */
  tokenOf(consumer: string): pulumi.Output<string> {
    const token = this.tokens[consumer];
    if (!token) throw new Error(`consul: ${consumer} is not a consumer (consumers: ${Object.keys(this.tokens).join(", ")})`);
    return token;
  }
}
