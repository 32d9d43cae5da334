import * as pulumi from "@pulumi/pulumi";
import type { AmqpConnection } from "../broker";
import type { DatabaseConnection } from "../database/postgres";
import type { RedisConnection } from "../database/redis";
import { HTTP_PORT } from "./fastify-service";
import { amqpUrl, passwordOf, plainPart, postgresUrl, redisUrl } from "./service-connections";

export interface ServiceConnections {
  postgres: pulumi.Output<DatabaseConnection>;
  redis: pulumi.Output<RedisConnection>;
  rabbitmq: pulumi.Output<AmqpConnection>;
}

export interface ServiceSettings {
  env: Record<string, pulumi.Input<string>>;
  secrets: Record<string, { variable: string; value: pulumi.Input<string> }>;
  migrationEnv: Record<string, pulumi.Input<string>>;
  migrationSecrets: string[];
}

export const JWT_ISSUER = "fundament-users";
export const JWT_AUDIENCE = "fundament";

/** The users service's settings: see services/users/src/config.ts for every variable. */
export function usersSettings(connections: ServiceConnections, signingKeyPem: pulumi.Output<string>, admin: { email: string; password: pulumi.Output<string> }): ServiceSettings {
  const database = { DATABASE_URL: postgresUrl(connections.postgres) };
  return {
    env: {
      ...database,
      REDIS_URL: redisUrl(connections.redis, true),
      AMQP_URL: amqpUrl(connections.rabbitmq),
      JWT_ISSUER,
      JWT_AUDIENCE,
      BOOTSTRAP_ADMIN_EMAIL: admin.email,
    },
    secrets: {
      "database-password": { variable: "DATABASE_PASSWORD", value: passwordOf(connections.postgres) },
      "redis-password": { variable: "REDIS_PASSWORD", value: passwordOf(connections.redis) },
      "amqp-password": { variable: "AMQP_PASSWORD", value: passwordOf(connections.rabbitmq) },
      "jwt-signing-key": { variable: "JWT_SIGNING_KEY", value: signingKeyPem },
      "bootstrap-admin-password": { variable: "BOOTSTRAP_ADMIN_PASSWORD", value: admin.password },
    },
    migrationEnv: database,
    migrationSecrets: ["database-password"],
  };
}

/** The config service's settings: see services/config/src/service-env.ts for every variable. */
export function configSettings(connections: ServiceConnections, usersHost: pulumi.Input<string>): ServiceSettings {
  const database = { DATABASE_URL: postgresUrl(connections.postgres) };
  return {
    env: {
      ...database,
      REDIS_URL: redisUrl(connections.redis, false),
      REDIS_USERNAME: plainPart(connections.redis, "user"),
      AMQP_HOST: plainPart(connections.rabbitmq, "host"),
      AMQP_PORT: plainPart(connections.rabbitmq, "port"),
      AMQP_VHOST: plainPart(connections.rabbitmq, "vhost"),
      AMQP_USER: plainPart(connections.rabbitmq, "user"),
      JWKS_URL: pulumi.interpolate`http://${usersHost}:${HTTP_PORT}/.well-known/jwks.json`,
      JWT_ISSUER,
      JWT_AUDIENCE,
    },
    secrets: {
      "database-password": { variable: "DATABASE_PASSWORD", value: passwordOf(connections.postgres) },
      "redis-password": { variable: "REDIS_PASSWORD", value: passwordOf(connections.redis) },
      "amqp-password": { variable: "AMQP_PASSWORD", value: passwordOf(connections.rabbitmq) },
    },
    migrationEnv: database,
    migrationSecrets: ["database-password"],
  };
}
