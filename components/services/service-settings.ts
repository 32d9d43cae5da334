import * as pulumi from "@pulumi/pulumi";
import type { AmqpConnection } from "../broker";
import type { DatabaseConnection } from "../database/postgres/postgres";
import type { RedisConnection } from "../database/redis/redis";
import type { GpuJobsConfig } from "../config";
import type { WorkloadStorage } from "../runtime/workload";
import { HTTP_PORT, SERVICE_CA_FILE } from "./fastify-service";
import type { TokenSigningKeys } from "./token-signing-keys";
import { amqpUrl, passwordOf, plainPart, postgresUrl, redisUrl } from "./service-connections";

export interface ServiceConnections {
  /** Through PgBouncer (transaction pooling). */
  postgres: pulumi.Output<DatabaseConnection>;
  /** PostgreSQL itself, for a session that must outlive a transaction (the config service's LISTEN). */
  postgresSession: pulumi.Output<DatabaseConnection>;
  redis: pulumi.Output<RedisConnection>;
  rabbitmq: pulumi.Output<AmqpConnection>;
}

export interface ServiceSettings {
  env: Record<string, pulumi.Input<string>>;
  secrets: Record<string, { variable: string; value: pulumi.Input<string> }>;
  migrationEnv: Record<string, pulumi.Input<string>>;
  migrationSecrets: string[];
  storage?: WorkloadStorage[];
  serviceAccount?: string;
}

/** PgBouncer's URL and the platform CA the kit verifies it with (the service). */
function postgresSettings(connections: ServiceConnections): Record<string, pulumi.Input<string>> {
  return { DATABASE_URL: postgresUrl(connections.postgres), DATABASE_CA_FILE: SERVICE_CA_FILE };
}

/**
 * The migration job connects to PostgreSQL itself, as the same role: it lifts its session's
 * statement_timeout (the role's default, postgres-init-sql.ts, would cancel a long migration) and
 * holds a session advisory lock (services/kit/src/migrations.ts). Through PgBouncer's transaction
 * pooling neither stays with the session: the lock would be taken on a server connection the
 * next statement may not get, and the lifted timeout would stay on a pooled server connection
 * that other sessions of the role then share.
 */
function migrationSettings(connections: ServiceConnections): Record<string, pulumi.Input<string>> {
  return { DATABASE_URL: postgresUrl(connections.postgresSession), DATABASE_CA_FILE: SERVICE_CA_FILE };
}

export const JWT_ISSUER = "fundament-users";
export const JWT_AUDIENCE = "fundament";
/** The role the users service grants to whoever may read configuration. */
export const CONFIG_READ_ROLE = "config:read";

/** The users service's settings: see services/users/src/config.ts for every variable. */
export function usersSettings(
  connections: ServiceConnections,
  signingKeys: TokenSigningKeys,
  admin: { email: string; password: pulumi.Output<string> },
  /** The gateway's addresses (or the network its pods take addresses from): only they may say who the client is. */
  trustedProxies?: pulumi.Input<string>,
): ServiceSettings {
  const database = postgresSettings(connections);
  return {
    env: {
      ...database,
      // The account cache's feed LISTENs: PgBouncer's transaction pooling would never deliver a notification.
      DATABASE_LISTEN_URL: postgresUrl(connections.postgresSession),
      // Per-address login limits must count the clients behind the gateway, not the gateway.
      ...(trustedProxies !== undefined ? { TRUST_PROXY: trustedProxies } : {}),
      REDIS_URL: redisUrl(connections.redis, true),
      // Redis and RabbitMQ present leaves of the platform CA, the file every service is given.
      REDIS_CA_FILE: SERVICE_CA_FILE,
      AMQP_URL: amqpUrl(connections.rabbitmq),
      AMQP_CA_FILE: SERVICE_CA_FILE,
      JWT_ISSUER,
      JWT_AUDIENCE,
      BOOTSTRAP_ADMIN_EMAIL: admin.email,
    },
    secrets: {
      "database-password": { variable: "DATABASE_PASSWORD", value: passwordOf(connections.postgres) },
      "redis-password": { variable: "REDIS_PASSWORD", value: passwordOf(connections.redis) },
      "amqp-password": { variable: "AMQP_PASSWORD", value: passwordOf(connections.rabbitmq) },
      "jwt-signing-key": { variable: "JWT_SIGNING_KEY", value: signingKeys.signing },
      ...(signingKeys.previousPublic ? { "jwt-previous-public-keys": { variable: "JWT_PREVIOUS_PUBLIC_KEYS", value: signingKeys.previousPublic } } : {}),
      "jwt-next-public-keys": { variable: "JWT_NEXT_PUBLIC_KEYS", value: signingKeys.nextPublic },
      "bootstrap-admin-password": { variable: "BOOTSTRAP_ADMIN_PASSWORD", value: admin.password },
    },
    migrationEnv: migrationSettings(connections),
    migrationSecrets: ["database-password"],
  };
}

/** The config service's settings: see services/config/src/service-env.ts for every variable. */
export function configSettings(connections: ServiceConnections, usersHost: pulumi.Input<string>): ServiceSettings {
  const database = postgresSettings(connections);
  return {
    env: {
      ...database,
      // The change feed LISTENs: PgBouncer's transaction pooling would never deliver a notification.
      DATABASE_LISTEN_URL: postgresUrl(connections.postgresSession),
      REDIS_URL: redisUrl(connections.redis, false),
      REDIS_CA_FILE: SERVICE_CA_FILE,
      REDIS_USERNAME: plainPart(connections.redis, "user"),
      AMQP_HOST: plainPart(connections.rabbitmq, "host"),
      AMQP_CA_FILE: SERVICE_CA_FILE,
      AMQP_PORT: plainPart(connections.rabbitmq, "port"),
      AMQP_VHOST: plainPart(connections.rabbitmq, "vhost"),
      AMQP_USER: plainPart(connections.rabbitmq, "user"),
      // The users service serves HTTPS with its leaf: verified against the platform CA for usersHost.
      JWKS_URL: pulumi.interpolate`https://${usersHost}:${HTTP_PORT}/.well-known/jwks.json`,
      JWKS_CA_FILE: SERVICE_CA_FILE,
      JWT_ISSUER,
      JWT_AUDIENCE,
      // Routed through the gateway, reads are no longer anonymous: a token with this role (or the write role) reads.
      CONFIG_READ_ROLE,
    },
    secrets: {
      "database-password": { variable: "DATABASE_PASSWORD", value: passwordOf(connections.postgres) },
      "redis-password": { variable: "REDIS_PASSWORD", value: passwordOf(connections.redis) },
      "amqp-password": { variable: "AMQP_PASSWORD", value: passwordOf(connections.rabbitmq) },
    },
    migrationEnv: migrationSettings(connections),
    migrationSecrets: ["database-password"],
  };
}

/** The configured providers, or the target's own when none are: the dev machine on docker, the GPU pools on kubernetes. */
export function effectiveGpuProviders(gpuJobs: GpuJobsConfig, target: "docker" | "kubernetes"): GpuJobsConfig["providers"] {
  if (gpuJobs.providers.length > 0) return gpuJobs.providers;
  return target === "docker" ? ["local"] : ["aws"];
}

/** Where the local provider (dev) keeps its workers' records, on a volume so they survive a restart. */
export const GPU_JOBS_LOCAL_STATE = "/var/lib/gpu-jobs";

/**
 * The gpu-jobs service's settings: see services/gpu-jobs/src/service-env.ts. Provider API keys
 * are secret files; the aws provider authenticates with the ServiceAccount's own token.
 */
export function gpuJobsSettings(
  connections: ServiceConnections,
  usersHost: pulumi.Input<string>,
  gpuJobs: GpuJobsConfig,
  kubernetes: { gpuNamespace: string; serviceAccount: string } | undefined,
): ServiceSettings {
  const database = postgresSettings(connections);
  const tables = (provider: string) => JSON.stringify(gpuJobs.offers.filter((offer) => offer.provider === provider).map(({ provider: _provider, ...offer }) => offer));
  const providers = effectiveGpuProviders(gpuJobs, kubernetes === undefined ? "docker" : "kubernetes");
  const keyed = (["runpod", "vastai", "lambda", "paperspace", "genesis"] as const).filter((provider) => providers.includes(provider) && gpuJobs.apiKeys[provider]);
  return {
    env: {
      ...database,
      // The users service serves HTTPS with its leaf: verified against the platform CA for usersHost.
      JWKS_URL: pulumi.interpolate`https://${usersHost}:${HTTP_PORT}/.well-known/jwks.json`,
      JWKS_CA_FILE: SERVICE_CA_FILE,
      JWT_ISSUER,
      JWT_AUDIENCE,
      // Commands (launch, monitor, cancel) through its own queues, state changes as events.
      AMQP_HOST: plainPart(connections.rabbitmq, "host"),
      AMQP_CA_FILE: SERVICE_CA_FILE,
      AMQP_PORT: plainPart(connections.rabbitmq, "port"),
      AMQP_VHOST: plainPart(connections.rabbitmq, "vhost"),
      AMQP_USER: plainPart(connections.rabbitmq, "user"),
      GPU_PROVIDERS: providers.join(","),
      GPU_MAX_ATTEMPTS: String(gpuJobs.maxAttempts),
      AWS_GPU_OFFERS: tables("aws"),
      GENESIS_OFFERS: tables("genesis"),
      PAPERSPACE_OFFERS: tables("paperspace"),
      ...(providers.includes("local") ? { LOCAL_STATE_DIR: GPU_JOBS_LOCAL_STATE } : {}),
      ...(kubernetes
        ? {
            AWS_GPU_NAMESPACE: kubernetes.gpuNamespace,
            // The API server's certificate is signed by the cluster CA, mounted beside the token.
            NODE_EXTRA_CA_CERTS: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
          }
        : {}),
    },
    secrets: {
      "database-password": { variable: "DATABASE_PASSWORD", value: passwordOf(connections.postgres) },
      "amqp-password": { variable: "AMQP_PASSWORD", value: passwordOf(connections.rabbitmq) },
      ...Object.fromEntries(keyed.map((provider) => [`${provider}-api-key`, { variable: `${provider.toUpperCase()}_API_KEY`, value: pulumi.secret(gpuJobs.apiKeys[provider]!) }])),
    },
    migrationEnv: migrationSettings(connections),
    migrationSecrets: ["database-password"],
    ...(providers.includes("local") ? { storage: [{ name: "local-workers", path: GPU_JOBS_LOCAL_STATE, sizeGiB: 1 }] } : {}),
    ...(kubernetes && providers.includes("aws") ? { serviceAccount: kubernetes.serviceAccount } : {}),
  };
}
