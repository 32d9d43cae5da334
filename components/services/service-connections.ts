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

/** The host is the server's workload name, which its leaf carries: verify-full succeeds on both targets. */
export function postgresUrl(connection: pulumi.Output<DatabaseConnection>): pulumi.Output<string> {
  return pulumi.unsecret(connection.apply((c) => `postgres://${encodeURIComponent(c.user)}@${c.host}:${c.port}/${encodeURIComponent(c.database)}?sslmode=verify-full`));
}

/** rediss:// (TLS) whenever the connection says so, which the platform's Redis always does. */
export function redisUrl(connection: pulumi.Output<RedisConnection>, withUser: boolean): pulumi.Output<string> {
  return pulumi.unsecret(connection.apply((c) => `${c.tls ? "rediss" : "redis"}://${withUser ? `${encodeURIComponent(c.user)}@` : ""}${c.host}:${c.port}/0`));
}

/** amqps:// (TLS) whenever the connection says so, which the platform's broker always does. */
export function amqpUrl(connection: pulumi.Output<AmqpConnection>): pulumi.Output<string> {
  return pulumi.unsecret(connection.apply((c) => `${c.tls ? "amqps" : "amqp"}://${encodeURIComponent(c.user)}@${c.host}:${c.port}/${encodeURIComponent(c.vhost)}`));
}
