import * as pulumi from "@pulumi/pulumi";
import type { AmqpConnection } from "../broker";
import type { DatabaseConnection } from "../database/postgres/postgres";
import type { RedisConnection } from "../database/redis/redis";

/**
 * A connection output is secret as a whole because it carries a password. These split it: the
 * address parts become plain settings, the password stays a secret for a file.
 */
export function plainPart<T, K extends keyof T>(connection: pulumi.Output<T>, key: K): pulumi.Output<string> {
  return pulumi.unsecret(connection.apply((c) => String(c[key])));
}

export function passwordOf(connection: pulumi.Output<{ password: string }>): pulumi.Output<string> {
  return pulumi.secret(connection.apply((c) => c.password));
}

export function postgresUrl(connection: pulumi.Output<DatabaseConnection>): pulumi.Output<string> {
  return pulumi.unsecret(connection.apply((c) => `postgres://${encodeURIComponent(c.user)}@${c.host}:${c.port}/${encodeURIComponent(c.database)}`));
}

/** rediss:// (TLS) whenever the connection says so, which the platform's Redis always does. */
export function redisUrl(connection: pulumi.Output<RedisConnection>, withUser: boolean): pulumi.Output<string> {
  return pulumi.unsecret(connection.apply((c) => `${c.tls ? "rediss" : "redis"}://${withUser ? `${encodeURIComponent(c.user)}@` : ""}${c.host}:${c.port}/0`));
}

/** amqps:// (TLS) whenever the connection says so, which the platform's broker always does. */
export function amqpUrl(connection: pulumi.Output<AmqpConnection>): pulumi.Output<string> {
  return pulumi.unsecret(connection.apply((c) => `${c.tls ? "amqps" : "amqp"}://${encodeURIComponent(c.user)}@${c.host}:${c.port}/${encodeURIComponent(c.vhost)}`));
}

/**
 * The CA files a service verifies Redis and RabbitMQ against, as the kit reads them
 * (REDIS_CA_FILE, AMQP_CA_FILE). They travel with the secret files because services take every
 * file through `*_FILE`; the CA itself is public.
 */
export function redisCaSecret(connection: pulumi.Output<RedisConnection>): { variable: string; value: pulumi.Output<string> } {
  return { variable: "REDIS_CA", value: plainPart(connection, "caCertPem") };
}

export function amqpCaSecret(connection: pulumi.Output<AmqpConnection>): { variable: string; value: pulumi.Output<string> } {
  return { variable: "AMQP_CA", value: plainPart(connection, "caCertPem") };
}
