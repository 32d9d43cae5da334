import { PGBOUNCER_EXPORTER_IMAGE, PGBOUNCER_IMAGE, POSTGRES_EXPORTER_IMAGE, POSTGRES_IMAGE } from "../database/postgres/postgres-images";
import { CLUSTER_SCHEMA } from "./cluster-schema";
import { Field, NumberField, ObjectField } from "./schema-fields";
import { IMAGE_ONLY_PINS, SERVER_VERSIONS } from "./server-versions";

/**
 * Every `fundament:*` key. The README's configuration reference is generated from this object
 * and a test keeps the two equal.
 */

const cpu = (dflt: number): NumberField => ({ kind: "number", doc: "CPU cores, request = limit", default: dflt, min: 0.1, max: 64 });
const memoryMiB = (dflt: number, min: number): NumberField => ({
  kind: "integer",
  doc: "memory in MiB, request = limit (the server's own settings are derived from it)",
  default: dflt,
  min,
  max: 262_144,
});
const storageGiB = (dflt: number): NumberField => ({ kind: "integer", doc: "persistent volume size in GiB", default: dflt, min: 1, max: 16_384 });
const image = (doc: string, dflt: string): Field => ({ kind: "image", doc, default: dflt });
const URL_PATTERN = /^https?:\/\/\S+$/;
const URL_DOC = "an http:// or https:// URL";
const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+$/;

const MONGO_INDEX: ObjectField = {
  kind: "object",
  doc: "one index",
  fields: {
    collection: { kind: "string", doc: "collection", required: true, pattern: /^[A-Za-z_][A-Za-z0-9_.-]{0,119}$/, patternDoc: "a collection name" },
    keys: {
      kind: "custom",
      required: true,
      doc: "index keys, field to 1 (ascending) or -1 (descending)",
      typeDoc: "map of field to 1 | -1",
      default: undefined,
      validate: (value, key) =>
        typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length > 0 && Object.values(value).every((v) => v === 1 || v === -1)
          ? []
          : [`${key}: must map at least one field to 1 or -1 (got ${JSON.stringify(value)})`],
    },
    unique: { kind: "boolean", doc: "unique index", default: false },
    name: { kind: "string", doc: "index name (default: derived from keys)", pattern: /^[A-Za-z0-9_.-]{1,120}$/, patternDoc: "letters, digits, _ . -" },
  },
};

export const SERVICE_NAMES = ["users", "config", "gpu-jobs"] as const;
export const GPU_PROVIDERS = ["aws", "runpod", "vastai", "lambda", "paperspace", "genesis", "local"] as const;
export const DATABASE_KINDS = ["postgres", "redis", "mongo", "rabbitmq"] as const;

const serviceField = (name: string): ObjectField => ({
  kind: "object",
  doc: `the ${name} service`,
  fields: {
    enabled: { kind: "boolean", doc: "deploy this service", default: true },
    image: image(`image; dev builds it from services/${name}/Dockerfile under this name`, `fundament/${name}:0.1.0`),
    cpu: cpu(0.5),
    memoryMiB: memoryMiB(256, 128),
    replicas: { kind: "integer", doc: "replicas (Kubernetes; Docker runs one)", default: 2, min: 1, max: 50 },
    databases: {
      kind: "array",
      doc: "data services this service gets its own database, role and credentials in",
      items: { kind: "string", doc: "data service", oneOf: DATABASE_KINDS },
      default: ["postgres", "redis", "rabbitmq"],
    },
  },
});

export const STACK_SCHEMA: Record<string, Field> = {
  target: { kind: "string", doc: "where the stack runs", oneOf: ["docker", "kubernetes"], required: true },
  environment: {
    kind: "string",
    doc: "environment name, prefixed to every resource name (default: the stack name)",
    pattern: /^[a-z][a-z0-9-]{0,19}$/,
    patternDoc: "lower-case letters, digits and dashes, starting with a letter, at most 20 characters",
  },
  domain: {
    kind: "string",
    doc: "DNS domain the gateway serves",
    default: "fundament.localhost",
    pattern: /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    patternDoc: "a lower-case DNS name",
  },
  docker: {
    kind: "object",
    doc: "Docker target",
    fields: {
      host: { kind: "string", doc: "Docker engine address (default: DOCKER_HOST or the local socket)", pattern: /^(unix|tcp|ssh|npipe):\/\/\S+$/, patternDoc: "a unix://, tcp://, ssh:// or npipe:// address" },
      publishAddress: {
        kind: "string",
        doc: "host address published ports bind to",
        default: "127.0.0.1",
        pattern: /^(\d{1,3}(\.\d{1,3}){3}|::1?|\[::1?\])$/,
        patternDoc: "an IPv4 address, :: or ::1",
      },
      publishDataPorts: {
        kind: "boolean",
        doc: "also publish the data services' ports on publishAddress, for psql or redis-cli from the host (keep publishAddress on loopback)",
        default: false,
      },
    },
  },
  kubernetes: {
    kind: "object",
    doc: "Kubernetes target (the cluster of the ambient kubeconfig)",
    fields: {
      namespace: {
        kind: "string",
        doc: "namespace everything is deployed into",
        default: "fundament",
        pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
        patternDoc: "a DNS label (lower-case letters, digits, dashes)",
      },
      context: { kind: "string", doc: "kubeconfig context (default: the current context)" },
      storageClass: { kind: "string", doc: "StorageClass of persistent volumes (default: the cluster default); it must allow volume expansion (allowVolumeExpansion: true) for a larger storageGiB to grow a volume in place" },
    },
  },
  postgres: {
    kind: "object",
    doc: "PostgreSQL",
    fields: {
      image: image("PostgreSQL image (the tested major: see components/database/postgres/postgres-images.ts)", POSTGRES_IMAGE),
      exporterImage: image("postgres_exporter image", POSTGRES_EXPORTER_IMAGE),
      cpu: cpu(2),
      memoryMiB: memoryMiB(4096, 256),
      storageGiB: storageGiB(20),
      maxConnections: { kind: "integer", doc: "max_connections (PgBouncer multiplexes clients onto these)", default: 100, min: 20, max: 5000 },
    },
  },
  pgbouncer: {
    kind: "object",
    doc: "PgBouncer in front of PostgreSQL",
    fields: {
      image: image("PgBouncer image", PGBOUNCER_IMAGE),
      exporterImage: image("pgbouncer_exporter image", PGBOUNCER_EXPORTER_IMAGE),
      cpu: cpu(0.5),
      memoryMiB: memoryMiB(128, 32),
      defaultPoolSize: { kind: "integer", doc: "server connections per database/user pair", default: 20, min: 1, max: 1000 },
      maxClientConnections: { kind: "integer", doc: "client connections PgBouncer accepts", default: 2000, min: 10, max: 100_000 },
    },
  },
  backup: {
    kind: "object",
    doc: "logical backups of every PostgreSQL database",
    fields: {
      schedule: { kind: "cron", doc: "when backups run", default: "17 3 * * *" },
      uploadSchedule: { kind: "cron", doc: "when finished backups are copied to the backups bucket (only new ones are sent)", default: "*/30 * * * *" },
      retention: { kind: "integer", doc: "backups kept per database", default: 7, min: 1, max: 365 },
      volumeSizeGiB: { kind: "integer", doc: "size of the backup volume when no object storage is configured", default: 20, min: 1, max: 16_384 },
    },
  },
  tls: {
    kind: "object",
    doc: "the internal PKI: the platform CA and the leaf certificate of every server",
    fields: {
      caValidityHours: { kind: "integer", doc: "validity of the platform CA in hours (renewing it re-issues every leaf)", default: 87_600, min: 720, max: 175_200 },
      validityHours: { kind: "integer", doc: "validity of each server's leaf certificate in hours", default: 8_760, min: 24, max: 43_800 },
      earlyRenewalHours: {
        kind: "integer",
        doc: "a `pulumi up` this many hours or fewer before a certificate expires re-issues it (CA and leaves)",
        default: 720,
        min: 1,
        max: 43_799,
      },
    },
  },
  redis: {
    kind: "object",
    doc: "Redis",
    fields: {
      image: image("Redis image", SERVER_VERSIONS.redis.image),
      exporterImage: image("redis_exporter image", SERVER_VERSIONS.redisExporter.image),
      cpu: cpu(1),
      // Below 128 MiB, half kept free for fork copy-on-write leaves Redis too little to be useful.
      memoryMiB: memoryMiB(1024, 128),
      storageGiB: storageGiB(5),
      evictionPolicy: {
        kind: "string",
        doc: "what Redis does at maxmemory",
        default: "noeviction",
        oneOf: ["noeviction", "allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu", "allkeys-random", "volatile-random", "volatile-ttl"],
      },
    },
  },
  mongo: {
    kind: "object",
    doc: "MongoDB (single-node replica set rs0)",
    fields: {
      image: image("MongoDB image", "mongo:8.0.12-noble"),
      exporterImage: image("mongodb_exporter image", "percona/mongodb_exporter:0.44.0"),
      cpu: cpu(1),
      memoryMiB: memoryMiB(2048, 512),
      storageGiB: storageGiB(20),
      databases: {
        kind: "array",
        doc: "databases for platform applications not deployed by fundament (each gets a user and its indexes); services that list mongo get one too",
        default: [{ service: "media", indexes: [{ collection: "assets", keys: { checksum: 1 }, unique: true }, { collection: "assets", keys: { createdAt: -1 } }] }],
        items: {
          kind: "object",
          doc: "one application database",
          fields: {
            service: { kind: "string", doc: "application name: the user and database name", required: true, pattern: /^[a-z][a-z0-9-]{0,39}$/, patternDoc: "lower-case letters, digits and dashes" },
            indexes: {
              kind: "array",
              doc: "indexes created idempotently",
              default: [],
              items: MONGO_INDEX,
            },
          },
        },
      },
    },
  },
  rabbitmq: {
    kind: "object",
    doc: "RabbitMQ",
    fields: {
      image: image("RabbitMQ image (with the management plugin)", SERVER_VERSIONS.rabbitmq.image),
      cpu: cpu(1),
      memoryMiB: memoryMiB(1024, 256),
      storageGiB: storageGiB(10),
      queues: {
        kind: "custom",
        doc: "durable quorum queues: each gets a <name>.dlq, a delivery limit and a dead-letter policy",
        typeDoc: "list of {name, routingKeys, exchange?, deliveryLimit?, messageTtlMs?, maxLength?, consumers}",
        default: [],
        // Queue entries are checked with the services that consume them, in load-config.ts.
        validate: (value, key) => (Array.isArray(value) ? [] : [`${key}: must be a list of queues (got ${JSON.stringify(value)})`]),
      },
    },
  },
  storage: {
    kind: "object",
    doc: "object storage",
    fields: {
      provider: { kind: "string", doc: "minio (a MinIO workload) or s3 (AWS S3 buckets)", default: "minio", oneOf: ["minio", "s3"] },
      image: image("MinIO server image", "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"),
      clientImage: image("MinIO client image for bucket setup", "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"),
      cpu: cpu(1),
      memoryMiB: memoryMiB(1024, 256),
      storageGiB: storageGiB(50),
      backupRetentionDays: { kind: "integer", doc: "days backup objects are kept in the backups bucket", default: 30, min: 1, max: 3650 },
    },
  },
  monitoring: {
    kind: "object",
    doc: "Prometheus, Alertmanager, Grafana and Jaeger",
    fields: {
      prometheusImage: image("Prometheus image", "prom/prometheus:v3.5.0"),
      alertmanagerImage: image("Alertmanager image", "prom/alertmanager:v0.28.1"),
      grafanaImage: image("Grafana image", "grafana/grafana:12.1.1"),
      jaegerImage: image("Jaeger v2 image", "jaegertracing/jaeger:2.10.0"),
      cpu: cpu(1),
      memoryMiB: memoryMiB(2048, 512),
      storageGiB: { kind: "integer", doc: "Prometheus volume in GiB; the TSDB is also capped at 90% of it (retention by size)", default: 20, min: 1, max: 16_384 },
      retentionDays: { kind: "integer", doc: "days Prometheus keeps samples (retention by time)", default: 15, min: 1, max: 3650 },
      scrapeIntervalSeconds: { kind: "integer", doc: "how often every target is scraped and every rule evaluated", default: 15, min: 5, max: 300 },
      escalationAfterMinutes: { kind: "integer", doc: "a critical alert still firing after this long also notifies receivers.escalation", default: 30, min: 5, max: 1440 },
      dashboardFolder: { kind: "string", doc: "Grafana folder the provisioned dashboards appear in", default: "fundament", pattern: /^[A-Za-z0-9][A-Za-z0-9 _-]{0,39}$/, patternDoc: "letters, digits, spaces, _ and -" },
      traceRetentionHours: { kind: "integer", doc: "hours Jaeger keeps spans", default: 72, min: 1, max: 8760 },
      traceStorageGiB: { kind: "integer", doc: "Jaeger volume in GiB", default: 10, min: 1, max: 16_384 },
      receivers: {
        kind: "object",
        doc: "where alerts go; with none configured they are only visible in the Alertmanager UI. Set credentials with `pulumi config set --secret --path`",
        fields: {
          pager: {
            kind: "object",
            doc: "critical alerts",
            fields: { url: { kind: "string", doc: "pager webhook URL (critical alerts)", pattern: URL_PATTERN, patternDoc: URL_DOC }, key: { kind: "string", doc: "bearer key the pager webhook requires (secret)" } },
          },
          slack: {
            kind: "object",
            doc: "critical and warning alerts",
            fields: {
              webhookUrl: { kind: "string", doc: "Slack incoming-webhook URL (secret: the URL is the credential)", pattern: URL_PATTERN, patternDoc: URL_DOC },
              channel: { kind: "string", doc: "Slack channel", default: "#alerts", pattern: /^[#@][A-Za-z0-9._-]{1,80}$/, patternDoc: "#channel or @user" },
            },
          },
          email: {
            kind: "object",
            doc: "warning alerts",
            fields: {
              to: { kind: "string", doc: "recipient address (warning alerts)", pattern: EMAIL_PATTERN, patternDoc: "an e-mail address" },
              from: { kind: "string", doc: "sender address", pattern: EMAIL_PATTERN, patternDoc: "an e-mail address" },
              smarthost: { kind: "string", doc: "SMTP server host:port", pattern: /^[A-Za-z0-9.-]+:\d{1,5}$/, patternDoc: "host:port" },
              username: { kind: "string", doc: "SMTP user" },
              password: { kind: "string", doc: "SMTP password (secret)" },
              requireTls: { kind: "boolean", doc: "refuse to send without STARTTLS", default: true },
            },
          },
          escalation: {
            kind: "object",
            doc: "critical alerts unresolved after escalationAfterMinutes",
            fields: { url: { kind: "string", doc: "escalation webhook URL", pattern: URL_PATTERN, patternDoc: URL_DOC }, key: { kind: "string", doc: "bearer key it requires (secret)" } },
          },
          deadMansSwitch: {
            kind: "object",
            doc: "receives Watchdog every minute and alarms when it stops",
            fields: { url: { kind: "string", doc: "dead-man's-switch webhook URL", pattern: URL_PATTERN, patternDoc: URL_DOC }, key: { kind: "string", doc: "bearer key it requires (secret)" } },
          },
        },
      },
    },
  },
  gateway: {
    kind: "object",
    doc: "the Traefik gateway: the one workload that publishes ports",
    fields: {
      image: image("Traefik v3 image (no Debian package: see components/config/server-versions.ts)", IMAGE_ONLY_PINS.traefik.image),
      cpu: cpu(0.5),
      memoryMiB: memoryMiB(256, 64),
      replicas: { kind: "integer", doc: "replicas (Kubernetes; Docker runs one; must be 1 with acme, whose state is one instance's file)", default: 2, min: 1, max: 20 },
      certificates: {
        kind: "string",
        doc: "where the public certificate comes from: platform-ca (signed by the platform CA: dev), acme (Let's Encrypt), provided (gateway.certificate)",
        default: "platform-ca",
        oneOf: ["platform-ca", "acme", "provided"],
      },
      acme: {
        kind: "object",
        doc: "ACME certificates (gateway.certificates: acme)",
        fields: {
          email: { kind: "string", doc: "account e-mail the CA sends expiry notices to", pattern: EMAIL_PATTERN, patternDoc: "an e-mail address" },
          challenge: { kind: "string", doc: "tls (TLS-ALPN-01 on port 443) or dns (DNS-01 through dnsProvider)", default: "tls", oneOf: ["tls", "dns"] },
          dnsProvider: { kind: "string", doc: "lego DNS provider code for the dns challenge (route53, cloudflare, ...)", pattern: /^[a-z0-9]{2,30}$/, patternDoc: "a lego provider code (lower-case letters and digits)" },
          dnsCredentials: {
            kind: "custom",
            doc: "the DNS provider's variables (e.g. CLOUDFLARE_DNS_API_TOKEN), each delivered as a file through <NAME>_FILE; set with `pulumi config set --secret --path`",
            typeDoc: "map of VARIABLE to value",
            default: {},
            validate: (value, key) =>
              typeof value === "object" && value !== null && !Array.isArray(value) && Object.entries(value).every(([name, v]) => /^[A-Z][A-Z0-9_]{1,63}$/.test(name) && typeof v === "string" && v !== "")
                ? []
                : [`${key}: must map upper-case variable names to non-empty strings (got ${JSON.stringify(Object.keys((value as object) ?? {}))})`],
          },
          caServer: { kind: "string", doc: "ACME directory URL (the staging one while testing)", default: "https://acme-v02.api.letsencrypt.org/directory", pattern: URL_PATTERN, patternDoc: URL_DOC },
        },
      },
      certificate: {
        kind: "object",
        doc: "a certificate given in config (gateway.certificates: provided)",
        fields: {
          cert: { kind: "string", doc: "PEM certificate chain covering every route host (*.domain)", pattern: /-----BEGIN CERTIFICATE-----/, patternDoc: "a PEM certificate" },
          key: { kind: "string", doc: "its PEM private key (secret: set with `pulumi config set --secret --path`)", pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, patternDoc: "a PEM private key" },
        },
      },
    },
  },
  imageRegistry: {
    kind: "string",
    doc: "where the services' images go: local (built on the Docker engine, dev) or ecr (pushed to Amazon ECR; needs aws:region)",
    default: "local",
    oneOf: ["local", "ecr"],
  },
  services: {
    kind: "object",
    doc: "the Fastify services",
    fields: Object.fromEntries(SERVICE_NAMES.map((name) => [name, serviceField(name)])),
  },
  gpuJobs: {
    kind: "object",
    doc: "where the gpu-jobs service places work",
    fields: {
      providers: { kind: "array", doc: "GPU providers to use (aws = Jobs on the EKS GPU pools; local = the dev machine, no GPU); empty: local on docker, aws on kubernetes", items: { kind: "string", doc: "provider", oneOf: GPU_PROVIDERS }, default: [] },
      apiKeys: {
        kind: "record",
        doc: "API keys per provider; set each with `pulumi config set --secret --path fundament:gpuJobs.apiKeys.<provider>`",
        keys: ["runpod", "vastai", "lambda", "paperspace", "genesis"],
        values: { kind: "string", doc: "API key" },
        default: {},
      },
      offers: {
        kind: "custom",
        typeDoc: "list of {provider, type, gpuModel, gpuMemoryGiB, gpuCount, region, spot, pricePerHour}",
        doc: "price tables of providers whose API has none (aws: type is the GPU pool name; genesis, paperspace: the instance or machine type)",
        default: [],
        validate: gpuOfferProblems,
      },
      maxAttempts: { kind: "integer", doc: "launch attempts per job before it fails", default: 6, min: 1, max: 50 },
    },
  },
  ...CLUSTER_SCHEMA,
};

/** The offers table: every entry a priced GPU type of a provider that has no price API. */
function gpuOfferProblems(value: unknown, key: string): string[] {
  if (!Array.isArray(value)) return [`${key}: must be a list (got ${JSON.stringify(value)})`];
  const problems: string[] = [];
  value.forEach((entry: Record<string, unknown>, index) => {
    const at = `${key}[${index}]`;
    if (!["aws", "genesis", "paperspace"].includes(String(entry?.provider))) problems.push(`${at}.provider: must be aws, genesis or paperspace (got ${JSON.stringify(entry?.provider)})`);
    for (const field of ["type", "gpuModel", "region"]) if (typeof entry?.[field] !== "string" || entry[field] === "") problems.push(`${at}.${field}: must be a non-empty string (got ${JSON.stringify(entry?.[field])})`);
    for (const field of ["gpuMemoryGiB", "gpuCount", "pricePerHour"]) if (typeof entry?.[field] !== "number" || !((entry[field] as number) > 0)) problems.push(`${at}.${field}: must be a positive number (got ${JSON.stringify(entry?.[field])})`);
    if (typeof entry?.spot !== "boolean") problems.push(`${at}.spot: must be true or false (got ${JSON.stringify(entry?.spot)})`);
  });
  return problems;
}
