import { validateBrokerModel } from "../broker/broker-model";
import { brokerModelFor } from "../services/service-broker";
import { POSTGRES_RESERVED_CONNECTIONS } from "../database/postgres/pgbouncer";
import { postgresMinimumMemoryMiB } from "../database/postgres/postgres-conf";
import { receiverProblems } from "../monitoring/alert-receivers";
import { clusterConfigProblems } from "./cluster-schema";
import { schemaChecker } from "./schema-validator";
import { ServiceName, StackConfig } from "./stack-config";
import { STACK_SCHEMA } from "./stack-schema";

export const NAMESPACE = "fundament";

/** Thrown before any resource is registered; one line per problem. */
export class StackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "StackConfigError";
  }
}

/** Pulumi hands structured config values over as JSON text; scalars stay strings. */
function parseConfigValue(raw: string): unknown {
  const trimmed = raw.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return raw;
    }
  }
  return raw;
}

const checkStackKeys = schemaChecker<Omit<StackConfig, "stack">>(STACK_SCHEMA, `${NAMESPACE}:`);

/**
 * Validates every `fundament:*` key of `allConfig` (as `pulumi.runtime.allConfig()` returns it)
 * against the schema and returns the typed config with defaults, or throws StackConfigError.
 * Keys of other namespaces (aws:region, kubernetes:context, ...) belong to providers.
 */
export function loadStackConfig(stack: string, allConfig: Record<string, string>): StackConfig {
  const values: Record<string, unknown> = {};
  for (const [fullKey, raw] of Object.entries(allConfig)) {
    const [namespace, ...rest] = fullKey.split(":");
    if (namespace === NAMESPACE) values[rest.join(":")] = parseConfigValue(raw);
  }
  if (values.environment === undefined) values.environment = stack.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 20);
  const { value, problems } = checkStackKeys(values);
  // Rules across keys read typed values, so they run once every key is valid on its own.
  if (problems.length === 0) problems.push(...crossFieldProblems({ ...value, stack }));
  if (problems.length > 0) throw new StackConfigError([...new Set(problems)]);
  return { ...value, stack };
}

const SERVICE_DEPENDENCIES = ["postgres", "redis", "rabbitmq"] as const;

/**
 * The services that hold a session on PostgreSQL itself, past PgBouncer: a LISTEN connection per
 * replica (config's change feed, users' account feed; service-settings.ts gives them
 * DATABASE_LISTEN_URL), since transaction pooling would never deliver a notification.
 */
const LISTENING_SERVICES = ["config", "users"] as const;

/**
 * Those sessions, all replicas counted: on Kubernetes a replica count can reach the autoscaler's
 * maximum; Docker runs one of each service.
 */
function directSessions(config: StackConfig): number {
  return LISTENING_SERVICES.map((name) => config.services[name])
    .filter((service) => service?.enabled && service.databases.includes("postgres"))
    .reduce((sum, service) => sum + (config.target === "kubernetes" ? Math.max(service.replicas, config.autoscaling.maxReplicas) : 1), 0);
}

/** Rules that span keys: what one key allows depends on another. */
function crossFieldProblems(config: StackConfig): string[] {
  const problems: string[] = [];
  const pg = config.postgres;
  const bouncer = config.pgbouncer;
  {
    const services = Object.values(config.services).filter((s) => s.enabled && s.databases.includes("postgres")).length;
    const pooled = bouncer.defaultPoolSize * Math.max(services, 1);
    const sessions = directSessions(config);
    if (pooled + sessions > pg.maxConnections - POSTGRES_RESERVED_CONNECTIONS) {
      problems.push(
        `${NAMESPACE}:pgbouncer.defaultPoolSize: ${bouncer.defaultPoolSize} per database x ${services} databases` +
          (sessions > 0 ? ` plus ${sessions} direct LISTEN session${sessions === 1 ? "" : "s"} (one per ${LISTENING_SERVICES.join(" and ")} replica)` : "") +
          ` exceeds ${NAMESPACE}:postgres.maxConnections (${pg.maxConnections}) less ${POSTGRES_RESERVED_CONNECTIONS} reserved for administration`,
      );
    }
  }
  const minimum = postgresMinimumMemoryMiB(pg.maxConnections);
  if (pg.memoryMiB < minimum) {
    problems.push(
      `${NAMESPACE}:postgres.memoryMiB: ${pg.memoryMiB} MiB cannot give ${pg.maxConnections} connections a usable work_mem; give at least ${minimum} or lower ${NAMESPACE}:postgres.maxConnections`,
    );
  }
  // A window as long as the validity would re-issue the certificate on every `pulumi up`.
  for (const [key, validity] of [["validityHours", config.tls.validityHours], ["caValidityHours", config.tls.caValidityHours]] as const) {
    if (config.tls.earlyRenewalHours >= validity) {
      problems.push(`${NAMESPACE}:tls.earlyRenewalHours: must be less than ${NAMESPACE}:tls.${key} (${validity}), or every \`pulumi up\` re-issues the certificates (got ${config.tls.earlyRenewalHours})`);
    }
  }
  if (bouncer.maxClientConnections < bouncer.defaultPoolSize) {
    problems.push(`${NAMESPACE}:pgbouncer.maxClientConnections: must be at least ${NAMESPACE}:pgbouncer.defaultPoolSize (${bouncer.defaultPoolSize}) or the pool never fills (got ${bouncer.maxClientConnections})`);
  }
  const brokerServices = (Object.keys(config.services) as ServiceName[]).filter((name) => config.services[name].enabled && config.services[name].databases.includes("rabbitmq"));
  // The services' own queues come first in the model: shift the indices back to the config's list,
  // so a configured queue that takes a service's queue name is reported under its own key.
  const model = brokerModelFor(brokerServices, config.rabbitmq.queues);
  const ownQueues = model.queues.length - config.rabbitmq.queues.length;
  problems.push(
    ...validateBrokerModel(model, `${NAMESPACE}:rabbitmq`)
      .filter((p) => !p.startsWith(`${NAMESPACE}:rabbitmq.services`))
      .map((p) => p.replace(/^([^:]+:rabbitmq\.queues)\[(\d+)\]/, (_match, key: string, index: string) => `${key}[${Number(index) - ownQueues}]`)),
  );
  // The services' code needs all three: refuse a config that would start them without one.
  for (const name of Object.keys(config.services) as ServiceName[]) {
    const service = config.services[name];
    const missing = SERVICE_DEPENDENCIES.filter((kind) => !service.databases.includes(kind));
    if (service.enabled && missing.length > 0) {
      problems.push(`${NAMESPACE}:services.${name}.databases: the ${name} service needs ${SERVICE_DEPENDENCIES.join(", ")} (missing ${missing.join(", ")})`);
    }
  }
  // A provider the service may use must come with its key, or the service refuses to start.
  for (const provider of config.gpuJobs.providers) {
    if (provider !== "aws" && provider !== "local" && !config.gpuJobs.apiKeys[provider]) {
      problems.push(`${NAMESPACE}:gpuJobs.apiKeys.${provider}: required because ${NAMESPACE}:gpuJobs.providers includes ${provider} (set it with pulumi config set --secret --path)`);
    }
  }
  if (config.gpuJobs.providers.includes("aws") && config.target !== "kubernetes") problems.push(`${NAMESPACE}:gpuJobs.providers: aws runs Jobs on the EKS GPU pools and needs target kubernetes`);
  if (config.gpuJobs.providers.includes("local") && config.target !== "docker") problems.push(`${NAMESPACE}:gpuJobs.providers: local runs commands on the dev machine and is for target docker only`);
  // A MongoDB database is named after its consumer; MongoDB keeps these names for itself.
  const reserved = ["admin", "local", "config"];
  for (const name of Object.keys(config.services) as ServiceName[]) {
    if (config.services[name].enabled && config.services[name].databases.includes("mongo") && reserved.includes(name)) {
      problems.push(`${NAMESPACE}:services.${name}.databases: the ${name} service cannot have a MongoDB database: "${name}" is a database MongoDB reserves`);
    }
  }
  config.mongo.databases.forEach((d, i) => {
    if (reserved.includes(d.service)) problems.push(`${NAMESPACE}:mongo.databases[${i}].service: "${d.service}" is a database MongoDB reserves (got ${JSON.stringify(d.service)})`);
  });
  const mongoNames = config.mongo.databases.map((d) => d.service);
  mongoNames.forEach((name, i) => {
    if (mongoNames.indexOf(name) !== i || config.services[name as ServiceName]?.databases.includes("mongo")) {
      problems.push(`${NAMESPACE}:mongo.databases[${i}].service: ${name} already has a MongoDB database`);
    }
  });
  problems.push(...receiverProblems(config.monitoring.receivers, `${NAMESPACE}:monitoring.receivers`));
  if (config.target === "kubernetes" && config.imageRegistry === "local") {
    problems.push(`${NAMESPACE}:imageRegistry: local images exist only on a Docker engine; the kubernetes target needs ecr (got local)`);
  }
  problems.push(...clusterConfigProblems(config, NAMESPACE));
  problems.push(...gatewayProblems(config));
  if (config.target === "docker" && config.storage?.provider === "s3") {
    problems.push(`${NAMESPACE}:storage.provider: s3 needs the kubernetes target on AWS (got s3 with target docker); use minio`);
  }
  return problems;
}

/** What each way of getting the public certificate needs besides its choice. */
function gatewayProblems(config: StackConfig): string[] {
  const gateway = config.gateway;
  const at = `${NAMESPACE}:gateway`;
  const problems: string[] = [];
  if (gateway.certificates === "acme") {
    if (!gateway.acme.email) problems.push(`${at}.acme.email: required because ${at}.certificates is acme (the CA's account address)`);
    if (gateway.acme.challenge === "dns" && !gateway.acme.dnsProvider) problems.push(`${at}.acme.dnsProvider: required because ${at}.acme.challenge is dns`);
    if (config.target === "kubernetes" && gateway.replicas > 1) {
      problems.push(`${at}.replicas: must be 1 with acme certificates: Traefik keeps ACME state in one instance's file (got ${gateway.replicas})`);
    }
  }
  if (gateway.certificates === "provided") {
    if (!gateway.certificate.cert) problems.push(`${at}.certificate.cert: required because ${at}.certificates is provided`);
    if (!gateway.certificate.key) problems.push(`${at}.certificate.key: required because ${at}.certificates is provided (set it with pulumi config set --secret --path)`);
  }
  return problems;
}
