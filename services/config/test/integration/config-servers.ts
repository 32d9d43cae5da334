import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, createPgPool, type EnvSource, runMigrations } from "@fundament/kit";
import { startPostgres, type PostgresServer } from "../../../../scripts/local-servers/postgres-server";
import { startRabbit, type RabbitNode } from "../../../../scripts/local-servers/rabbitmq-node";
import { startRedis, type RedisServer } from "../../../../scripts/local-servers/redis-server";
import { testPki } from "../../../../scripts/local-servers/shared-test-pki";
import { MIGRATIONS_DIR } from "../../src/migrations-dir";
import { roleDefaults } from "../../../../components/database/postgres/postgres-init-sql";
import { startJwksServer, type JwksServer } from "./jwks-server";

export const ISSUER = "https://users.fundament.test";
export const AUDIENCE = "config";

/**
 * Real PostgreSQL, Redis and (when asked) RabbitMQ for one test file: its own database with the
 * service's migrations applied, its own vhost and user, and a JWKS server with a test key. Redis
 * and RabbitMQ speak TLS only, as the platform renders them, and are dialled by the name their
 * test leaf carries ("localhost"), verified against the test CA.
 */
export interface ConfigServers {
  postgres: PostgresServer;
  redis: RedisServer;
  rabbit: RabbitNode | undefined;
  jwks: JwksServer;
  databaseUrl: string;
  databasePassword: string;
  /** The CA PostgreSQL\'s certificate chains to (the harness CA). */
  databaseCa: string;
  /** rediss://localhost:port/0 */
  redisUrl: string;
  /** The kit's (and ioredis's) TLS options for redisUrl. */
  redisTls: { ca: string };
  amqp: { host: string; port: number; vhost: string; user: string; password: string; tls: { ca: string } } | undefined;
  /** The service's environment, secrets as files, as a deployment would give it. */
  env(overrides?: Record<string, string>): EnvSource;
  stop(): Promise<void>;
}

/** Hex: a base64url secret may start with "-", which rabbitmqctl then reads as an option. */
const secret = () => randomBytes(18).toString("hex");

export async function startConfigServers(options: { rabbit: boolean }): Promise<ConfigServers> {
  const secretsDir = mkdtempSync(join(tmpdir(), "config-secrets-"));
  const started = await Promise.allSettled([startPostgres(), startRedis("appendonly no\nsave \"\"\n", { tls: true }), options.rabbit ? startRabbit({ tls: true }) : Promise.resolve(undefined)]);
  const [postgres, redis, rabbit] = started.map((result) => (result.status === "fulfilled" ? result.value : undefined)) as [
    PostgresServer | undefined,
    RedisServer | undefined,
    RabbitNode | undefined,
  ];
  let jwks: JwksServer | undefined;
  // A half-started fixture must not leave servers running: nothing else would stop them.
  const teardown = async () => {
    await jwks?.close();
    await Promise.allSettled([postgres?.destroy(), redis?.destroy(), rabbit?.destroy()]);
    rmSync(secretsDir, { recursive: true, force: true });
  };
  try {
    const failed = started.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (failed || !postgres || !redis) throw failed?.reason ?? new Error("a server did not start");
    return await prepare(postgres, redis, rabbit, secretsDir, (server) => (jwks = server), teardown);
  } catch (error) {
    await teardown();
    throw error;
  }
}

async function prepare(
  postgres: PostgresServer,
  redis: RedisServer,
  rabbit: RabbitNode | undefined,
  secretsDir: string,
  onJwks: (server: JwksServer) => void,
  teardown: () => Promise<void>,
): Promise<ConfigServers> {
  const databasePassword = secret();
  const database = `config_${process.pid}`;
  postgres.psql(`CREATE ROLE config LOGIN PASSWORD '${databasePassword}'`);
  postgres.psql(`CREATE DATABASE ${database} OWNER config`);
  // The limits the platform's init SQL gives every service role (PgBouncer drops the pool's own).
  for (const statement of roleDefaults("config")) postgres.psql(statement);
  const databaseUrl = `postgres://config@127.0.0.1:${postgres.port}/${database}`;
  const pool = createPgPool({ url: databaseUrl, password: databasePassword, ca: postgres.caPem, applicationName: "config-test-migrate", max: 1 });
  try {
    await runMigrations({ pool, directory: MIGRATIONS_DIR, lockName: "config" });
  } finally {
    await pool.end();
  }

  let amqp: ConfigServers["amqp"];
  if (rabbit) {
    amqp = { host: testPki().serverName, port: rabbit.amqpPort, vhost: `config-${process.pid}`, user: "config", password: secret(), tls: { ca: testPki().caPem } };
    rabbit.ctl(["add_vhost", amqp.vhost]);
    rabbit.ctl(["add_user", amqp.user, amqp.password]);
    rabbit.ctl(["set_permissions", "-p", amqp.vhost, amqp.user, ".*", ".*", ".*"]);
  }
  const jwks = await startJwksServer({ issuer: ISSUER, audience: AUDIENCE });
  onJwks(jwks);
  const dbPasswordFile = join(secretsDir, "db-password");
  writeFileSync(dbPasswordFile, `${databasePassword}\n`, { mode: 0o600 });
  const amqpPasswordFile = join(secretsDir, "amqp-password");
  if (amqp) writeFileSync(amqpPasswordFile, amqp.password, { mode: 0o600 });
  const caFile = join(secretsDir, "ca.crt");
  writeFileSync(caFile, testPki().caPem, { mode: 0o600 });
  const redisUrl = `rediss://${testPki().serverName}:${redis.port}/0`;
  return {
    postgres,
    redis,
    rabbit,
    jwks,
    databaseUrl,
    databasePassword,
    databaseCa: postgres.caPem,
    redisUrl,
    redisTls: { ca: testPki().caPem },
    amqp,
    env: (overrides = {}) => ({
      DATABASE_URL: databaseUrl,
      DATABASE_PASSWORD_FILE: dbPasswordFile,
      DATABASE_CA_FILE: postgres.caPath,
      REDIS_URL: redisUrl,
      REDIS_CA_FILE: caFile,
      AMQP_HOST: amqp?.host ?? testPki().serverName,
      AMQP_PORT: String(amqp?.port ?? 5671),
      AMQP_CA_FILE: caFile,
      AMQP_VHOST: amqp?.vhost ?? "/",
      AMQP_USER: amqp?.user ?? "config",
      AMQP_PASSWORD_FILE: amqpPasswordFile,
      JWKS_URL: jwks.url,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWKS_COOLDOWN_MS: "0",
      OUTBOX_SWEEP_MS: "500",
      LOG_LEVEL: "warn",
      ...overrides,
    }),
    stop: teardown,
  };
}

export function quietLogger() {
  return createLogger({ service: "config", level: process.env.CONFIG_TEST_LOG_LEVEL ?? "silent" });
}
