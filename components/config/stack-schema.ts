import { Type } from "@sinclair/typebox";
import type { QueueSpec } from "../broker/broker-model";
import { PGBOUNCER_EXPORTER_IMAGE, PGBOUNCER_IMAGE, POSTGRES_EXPORTER_IMAGE, POSTGRES_IMAGE } from "../database/postgres/postgres-images";
import { CLUSTER_KEYS } from "./cluster-schema";
import { cpu, cron, image, memoryMiB, patterned, secretString, section, storageGiB, stringEnum } from "./schema-builders";
import { IMAGE_ONLY_PINS, SERVER_VERSIONS } from "./server-versions";

/**
 * Every `fundament:*` key, in TypeBox. This is the one place a key is added: the validator, the
 * typed StackConfig (stack-config.ts), the editor schema (schema/stack-config.schema.json),
 * Pulumi.yaml's declarations and the README table all follow from it; regenerate the files with
 * `npx tsx scripts/config-reference.ts --write` and the tests check they match.
 *
 * Adding a key: a new top-level key is a `section(description, { field: ... })` below (every
 * field with a default, so the key may be left out); a field is `Type.Integer({ description,
 * default, minimum, maximum })`, `Type.Boolean`, `stringEnum`, `patterned` (a pattern and what it
 * accepts in words), `image`, `cron` or `secretString`; a field without a default is
 * `Type.Optional(...)`. Its type is then `StackConfig["key"]`. A rule across keys goes in
 * load-config.ts, which runs once every key is valid on its own.
 */

const URL_PATTERN = /^https?:\/\/\S+$/;
const URL_SAYS = "an http:// or https:// URL";
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const SERVICE_NAMES = ["users", "config", "gpu-jobs"] as const;
export const GPU_PROVIDERS = ["aws", "runpod", "vastai", "lambda", "paperspace", "genesis", "local"] as const;
export const DATABASE_KINDS = ["postgres", "redis", "mongo", "rabbitmq"] as const;
export const EVICTION_POLICIES = ["noeviction", "allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu", "allkeys-random", "volatile-random", "volatile-ttl"] as const;
/** Providers whose API needs a key; aws uses the cluster's own identity and local needs none. */
export const KEYED_GPU_PROVIDERS = ["runpod", "vastai", "lambda", "paperspace", "genesis"] as const;

const MONGO_INDEX = Type.Object(
  {
    collection: patterned(/^[A-Za-z_][A-Za-z0-9_.-]{0,119}$/, "a collection name", { description: "collection" }),
    keys: Type.Record(Type.String(), Type.Unsafe<1 | -1>({ type: "integer", enum: [1, -1] }), {
      description: "index keys, field to 1 (ascending) or -1 (descending)",
      minProperties: 1,
    }),
    unique: Type.Boolean({ description: "unique index", default: false }),
    name: Type.Optional(patterned(/^[A-Za-z0-9_.-]{1,120}$/, "letters, digits, _ . -", { description: "index name (default: derived from keys)" })),
  },
  { description: "one index", additionalProperties: false },
);

/** The shape of a queue; its names, routing keys and consumers are checked with the services in load-config.ts. */
const QUEUE = Type.Unsafe<QueueSpec>(
  Type.Object(
    {
      name: Type.String({ description: "queue name" }),
      routingKeys: Type.Array(Type.String(), { description: "routing keys bound to the exchange" }),
      exchange: Type.Optional(Type.String({ description: "exchange it binds to (default events)" })),
      deliveryLimit: Type.Optional(Type.Integer({ description: "deliveries before a message is dead-lettered" })),
      messageTtlMs: Type.Optional(Type.Integer({ description: "message time to live in ms" })),
      maxLength: Type.Optional(Type.Integer({ description: "most messages held" })),
      consumers: Type.Array(Type.String(), { description: "services that read it" }),
    },
    { description: "one quorum queue", additionalProperties: false },
  ),
);

const GPU_OFFER = Type.Object(
  {
    provider: stringEnum(["aws", "genesis", "paperspace"], { description: "provider" }),
    type: Type.String({ description: "GPU pool name (aws) or instance/machine type", minLength: 1 }),
    gpuModel: Type.String({ description: "GPU model", minLength: 1 }),
    gpuMemoryGiB: Type.Number({ description: "memory per GPU in GiB", exclusiveMinimum: 0 }),
    gpuCount: Type.Number({ description: "GPUs per node", exclusiveMinimum: 0 }),
    region: Type.String({ description: "region", minLength: 1 }),
    spot: Type.Boolean({ description: "spot (interruptible) capacity" }),
    pricePerHour: Type.Number({ description: "USD per node hour", exclusiveMinimum: 0 }),
  },
  { description: "one priced GPU type", additionalProperties: false },
);

function webhookReceiver(description: string, urlDescription: string, keyDescription: string) {
  return section(description, {
    url: Type.Optional(patterned(URL_PATTERN, URL_SAYS, { description: urlDescription })),
    key: secretString(keyDescription),
  });
}

function service(name: string) {
  return section(`the ${name} service`, {
    enabled: Type.Boolean({ description: "deploy this service", default: true }),
    image: image(`image; dev builds it from services/${name}/Dockerfile under this name`, `fundament/${name}:0.1.0`),
    cpu: cpu(0.5),
    memoryMiB: memoryMiB(256, 128),
    replicas: Type.Integer({ description: "replicas (Kubernetes; Docker runs one)", default: 2, minimum: 1, maximum: 50 }),
    databases: Type.Array(stringEnum(DATABASE_KINDS, { description: "data service" }), {
      description: "data services this service gets its own database, role and credentials in",
      default: ["postgres", "redis", "rabbitmq"],
    }),
  });
}

export const STACK_KEYS = {
  target: stringEnum(["docker", "kubernetes"], { description: "where the stack runs" }),
  environment: Type.Optional(
    patterned(/^[a-z][a-z0-9-]{0,19}$/, "lower-case letters, digits and dashes, starting with a letter, at most 20 characters", {
      description: "environment name, prefixed to every resource name (default: the stack name)",
    }),
  ),
  domain: patterned(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a lower-case DNS name", {
    description: "DNS domain the gateway serves",
    default: "fundament.localhost",
  }),
  docker: section("Docker target", {
    host: Type.Optional(
      patterned(/^(unix|tcp|ssh|npipe):\/\/\S+$/, "a unix://, tcp://, ssh:// or npipe:// address", {
        description: "Docker engine address (default: DOCKER_HOST or the local socket)",
      }),
    ),
    publishAddress: patterned(/^(\d{1,3}(\.\d{1,3}){3}|::1?|\[::1?\])$/, "an IPv4 address, :: or ::1", {
      description: "host address published ports bind to",
      default: "127.0.0.1",
    }),
    publishDataPorts: Type.Boolean({
      description: "also publish the data services' ports on publishAddress, for psql or redis-cli from the host (keep publishAddress on loopback); those on internal networks only publish through an extra host-access network that gives them no way out",
      default: false,
    }),
  }),
  kubernetes: section("Kubernetes target (the cluster of the ambient kubeconfig)", {
    namespace: patterned(DNS_LABEL, "a DNS label (lower-case letters, digits, dashes)", { description: "namespace everything is deployed into", default: "fundament" }),
    context: Type.Optional(Type.String({ description: "kubeconfig context (default: the current context)" })),
    storageClass: Type.Optional(
      Type.String({
        description:
          "StorageClass of persistent volumes (default: the cluster default); it must allow volume expansion (allowVolumeExpansion: true) for a larger storageGiB to grow a volume in place",
      }),
    ),
  }),
  postgres: section("PostgreSQL", {
    image: image("PostgreSQL image (the tested major: see components/database/postgres/postgres-images.ts)", POSTGRES_IMAGE),
    exporterImage: image("postgres_exporter image", POSTGRES_EXPORTER_IMAGE),
    cpu: cpu(2),
    memoryMiB: memoryMiB(4096, 256),
    storageGiB: storageGiB(20),
    maxConnections: Type.Integer({ description: "max_connections (PgBouncer multiplexes clients onto these)", default: 100, minimum: 20, maximum: 5000 }),
  }),
  pgbouncer: section("PgBouncer in front of PostgreSQL", {
    image: image("PgBouncer image", PGBOUNCER_IMAGE),
    exporterImage: image("pgbouncer_exporter image", PGBOUNCER_EXPORTER_IMAGE),
    cpu: cpu(0.5),
    memoryMiB: memoryMiB(128, 32),
    defaultPoolSize: Type.Integer({ description: "server connections per database/user pair", default: 20, minimum: 1, maximum: 1000 }),
    maxClientConnections: Type.Integer({ description: "client connections PgBouncer accepts", default: 2000, minimum: 10, maximum: 100_000 }),
  }),
  backup: section("logical backups of every PostgreSQL database", {
    schedule: cron("when backups run", "17 3 * * *"),
    uploadSchedule: cron("when finished backups are copied to the backups bucket (only new ones are sent)", "*/30 * * * *"),
    retention: Type.Integer({ description: "backups kept per database", default: 7, minimum: 1, maximum: 365 }),
    volumeSizeGiB: storageGiB(20, "size of the backup volume when no object storage is configured"),
  }),
  tls: section("the internal PKI: the platform CA and the leaf certificate of every server", {
    caValidityHours: Type.Integer({ description: "validity of the platform CA in hours (renewing it re-issues every leaf)", default: 87_600, minimum: 720, maximum: 175_200 }),
    validityHours: Type.Integer({ description: "validity of each server's leaf certificate in hours", default: 8_760, minimum: 24, maximum: 43_800 }),
    earlyRenewalHours: Type.Integer({
      description: "a `pulumi up` this many hours or fewer before a certificate expires re-issues it (CA and leaves)",
      default: 720,
      minimum: 1,
      maximum: 43_799,
    }),
  }),
  redis: section("Redis", {
    image: image("Redis image", SERVER_VERSIONS.redis.image),
    exporterImage: image("redis_exporter image", SERVER_VERSIONS.redisExporter.image),
    cpu: cpu(1),
    // Below 128 MiB, half kept free for fork copy-on-write leaves Redis too little to be useful.
    memoryMiB: memoryMiB(1024, 128),
    storageGiB: storageGiB(5),
    evictionPolicy: stringEnum(EVICTION_POLICIES, { description: "what Redis does at maxmemory", default: "noeviction" }),
  }),
  mongo: section("MongoDB (single-node replica set rs0)", {
    image: image("MongoDB image", "mongo:8.0.12-noble"),
    exporterImage: image("mongodb_exporter image", "percona/mongodb_exporter:0.44.0"),
    cpu: cpu(1),
    memoryMiB: memoryMiB(2048, 512),
    storageGiB: storageGiB(20),
    databases: Type.Array(
      Type.Object(
        {
          service: patterned(/^[a-z][a-z0-9-]{0,39}$/, "lower-case letters, digits and dashes", { description: "application name: the user and database name" }),
          indexes: Type.Array(MONGO_INDEX, { description: "indexes created idempotently", default: [] }),
        },
        { description: "one application database", additionalProperties: false },
      ),
      {
        description: "databases for platform applications not deployed by fundament (each gets a user and its indexes); services that list mongo get one too",
        default: [{ service: "media", indexes: [{ collection: "assets", keys: { checksum: 1 }, unique: true }, { collection: "assets", keys: { createdAt: -1 } }] }],
      },
    ),
  }),
  rabbitmq: section("RabbitMQ", {
    image: image("RabbitMQ image (with the management plugin)", SERVER_VERSIONS.rabbitmq.image),
    cpu: cpu(1),
    memoryMiB: memoryMiB(1024, 256),
    storageGiB: storageGiB(10),
    queues: Type.Array(QUEUE, { description: "durable quorum queues: each gets a <name>.dlq, a delivery limit and a dead-letter policy", default: [] }),
  }),
  storage: section("object storage", {
    provider: stringEnum(["minio", "s3"], { description: "minio (a MinIO workload) or s3 (AWS S3 buckets)", default: "minio" }),
    image: image("MinIO server image", "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"),
    clientImage: image("MinIO client image for bucket setup", "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"),
    cpu: cpu(1),
    memoryMiB: memoryMiB(1024, 256),
    storageGiB: storageGiB(50),
    backupRetentionDays: Type.Integer({ description: "days backup objects are kept in the backups bucket", default: 30, minimum: 1, maximum: 3650 }),
  }),
  monitoring: section("Prometheus, Alertmanager, Grafana and Jaeger", {
    prometheusImage: image("Prometheus image", SERVER_VERSIONS.prometheus.image),
    alertmanagerImage: image("Alertmanager image", SERVER_VERSIONS.alertmanager.image),
    grafanaImage: image("Grafana image", "grafana/grafana:12.1.1"),
    jaegerImage: image("Jaeger v2 image", "jaegertracing/jaeger:2.10.0"),
    nodeExporterImage: image("node-exporter image (host metrics: a container on Docker, a DaemonSet on Kubernetes)", SERVER_VERSIONS.nodeExporter.image),
    cadvisorImage: image("cAdvisor image (per-container metrics, Docker only; the kubelet has its own)", IMAGE_ONLY_PINS.cadvisor.image),
    cpu: cpu(1),
    memoryMiB: memoryMiB(2048, 512),
    storageGiB: storageGiB(20, "Prometheus volume in GiB; the TSDB is also capped at 90% of it (retention by size)"),
    retentionDays: Type.Integer({ description: "days Prometheus keeps samples (retention by time)", default: 15, minimum: 1, maximum: 3650 }),
    scrapeIntervalSeconds: Type.Integer({ description: "how often every target is scraped and every rule evaluated", default: 15, minimum: 5, maximum: 300 }),
    escalationAfterMinutes: Type.Integer({ description: "a critical alert still firing after this long also notifies receivers.escalation", default: 30, minimum: 5, maximum: 1440 }),
    dashboardFolder: patterned(/^[A-Za-z0-9][A-Za-z0-9 _-]{0,39}$/, "letters, digits, spaces, _ and -", { description: "Grafana folder the provisioned dashboards appear in", default: "fundament" }),
    traceRetentionHours: Type.Integer({ description: "hours Jaeger keeps spans", default: 72, minimum: 1, maximum: 8760 }),
    traceSampleRatio: Type.Number({
      description: "share of the traces a service starts that are recorded and sent to Jaeger (0 to 1; a request whose caller recorded its trace is always recorded); each recorded request costs its service CPU and Jaeger storage",
      default: 1,
      minimum: 0,
      maximum: 1,
    }),
    traceStorageGiB: storageGiB(10, "Jaeger volume in GiB"),
    receivers: section("where alerts go; with none configured they are only visible in the Alertmanager UI. Set credentials with `pulumi config set --secret --path`", {
      pager: webhookReceiver("critical alerts", "pager webhook URL (critical alerts)", "bearer key the pager webhook requires (secret)"),
      slack: section("critical and warning alerts", {
        webhookUrl: secretString("Slack incoming-webhook URL (secret: the URL is the credential)", { pattern: URL_PATTERN.source, patternErrorMessage: `must be ${URL_SAYS}` }),
        channel: patterned(/^[#@][A-Za-z0-9._-]{1,80}$/, "#channel or @user", { description: "Slack channel", default: "#alerts" }),
      }),
      email: section("warning alerts", {
        to: Type.Optional(patterned(EMAIL_PATTERN, "an e-mail address", { description: "recipient address (warning alerts)" })),
        from: Type.Optional(patterned(EMAIL_PATTERN, "an e-mail address", { description: "sender address" })),
        smarthost: Type.Optional(patterned(/^[A-Za-z0-9.-]+:\d{1,5}$/, "host:port", { description: "SMTP server host:port" })),
        username: Type.Optional(Type.String({ description: "SMTP user" })),
        password: secretString("SMTP password (secret)"),
        requireTls: Type.Boolean({ description: "refuse to send without STARTTLS", default: true }),
      }),
      escalation: webhookReceiver("critical alerts unresolved after escalationAfterMinutes", "escalation webhook URL", "bearer key it requires (secret)"),
      deadMansSwitch: webhookReceiver("receives Watchdog every minute and alarms when it stops", "dead-man's-switch webhook URL", "bearer key it requires (secret)"),
    }),
  }),
  gateway: section("the Traefik gateway: the one workload that publishes ports", {
    image: image("Traefik v3 image (no Debian package: see components/config/server-versions.ts)", IMAGE_ONLY_PINS.traefik.image),
    cpu: cpu(0.5),
    memoryMiB: memoryMiB(256, 64),
    replicas: Type.Integer({ description: "replicas (Kubernetes; Docker runs one; must be 1 with acme, whose state is one instance's file)", default: 2, minimum: 1, maximum: 20 }),
    certificates: stringEnum(["platform-ca", "acme", "provided"], {
      description: "where the public certificate comes from: platform-ca (signed by the platform CA: dev), acme (Let's Encrypt), provided (gateway.certificate)",
      default: "platform-ca",
    }),
    acme: section("ACME certificates (gateway.certificates: acme)", {
      email: Type.Optional(patterned(EMAIL_PATTERN, "an e-mail address", { description: "account e-mail the CA sends expiry notices to" })),
      challenge: stringEnum(["tls", "dns"], { description: "tls (TLS-ALPN-01 on port 443) or dns (DNS-01 through dnsProvider)", default: "tls" }),
      dnsProvider: Type.Optional(patterned(/^[a-z0-9]{2,30}$/, "a lego provider code (lower-case letters and digits)", { description: "lego DNS provider code for the dns challenge (route53, cloudflare, ...)" })),
      dnsCredentials: Type.Record(Type.String({ pattern: "^[A-Z][A-Z0-9_]{1,63}$" }), Type.String({ minLength: 1, secret: true }), {
        description: "the DNS provider's variables (e.g. CLOUDFLARE_DNS_API_TOKEN), each delivered as a file through <NAME>_FILE; set with `pulumi config set --secret --path`",
        default: {},
      }),
      caServer: patterned(URL_PATTERN, URL_SAYS, { description: "ACME directory URL (the staging one while testing)", default: "https://acme-v02.api.letsencrypt.org/directory" }),
    }),
    certificate: section("a certificate given in config (gateway.certificates: provided)", {
      cert: Type.Optional(patterned(/-----BEGIN CERTIFICATE-----/, "a PEM certificate", { description: "PEM certificate chain covering every route host (*.domain)" })),
      key: secretString("its PEM private key (secret: set with `pulumi config set --secret --path`)"),
    }),
  }),
  imageRegistry: stringEnum(["local", "ecr"], {
    description: "where the services' images go: local (built on the Docker engine, dev) or ecr (pushed to Amazon ECR; needs aws:region)",
    default: "local",
  }),
  services: section("the Fastify services", {
    users: service("users"),
    config: service("config"),
    "gpu-jobs": service("gpu-jobs"),
  }),
  tokenSigning: section("the users service's access-token signing keys (Ed25519, generated and held in the stack's state)", {
    generation: Type.Integer({
      description:
        "the generation of key that signs; raise it by one to rotate. The key that signed before is still accepted until the next rotation, and the next generation's public key is published one rotation ahead, so every replica and verifier knows a key before it signs",
      default: 1,
      minimum: 1,
      maximum: 100_000,
    }),
    acceptPrevious: Type.Boolean({
      description:
        "keep accepting tokens the previous generation signed; set false together with a rotation when that key leaked: its tokens are refused once the users service has read its key files again and the other services' JWKS copies have expired",
      default: true,
    }),
  }),
  gpuJobs: section("where the gpu-jobs service places work", {
    providers: Type.Array(stringEnum(GPU_PROVIDERS, { description: "provider" }), {
      description: "GPU providers to use (aws = Jobs on the EKS GPU pools; local = the dev machine, no GPU); empty: local on docker, aws on kubernetes",
      default: [],
    }),
    apiKeys: section(
      "API keys per provider; set each with `pulumi config set --secret --path fundament:gpuJobs.apiKeys.<provider>`",
      Object.fromEntries(KEYED_GPU_PROVIDERS.map((provider) => [provider, secretString(`${provider} API key (secret)`)])) as Record<
        (typeof KEYED_GPU_PROVIDERS)[number],
        ReturnType<typeof secretString>
      >,
    ),
    offers: Type.Array(GPU_OFFER, {
      description: "price tables of providers whose API has none (aws: type is the GPU pool name; genesis, paperspace: the instance or machine type)",
      default: [],
    }),
    maxAttempts: Type.Integer({ description: "launch attempts per job before it fails", default: 6, minimum: 1, maximum: 50 }),
  }),
  ...CLUSTER_KEYS,
};

/** The whole `fundament:` namespace as one object: the namespace prefix stripped from each key. */
export const STACK_SCHEMA = Type.Object(STACK_KEYS, { additionalProperties: false });
