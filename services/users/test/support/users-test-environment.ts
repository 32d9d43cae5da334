import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ChannelModel, type ConsumeMessage } from "amqplib";
import { createPgPool, runMigrations } from "@fundament/kit";
import { waitFor } from "../../../../scripts/local-servers/free-port";
import { startPostgres, type PostgresServer } from "../../../../scripts/local-servers/postgres-server";
import { startRabbit, type RabbitNode } from "../../../../scripts/local-servers/rabbitmq-node";
import { testPki } from "../../../../scripts/local-servers/shared-test-pki";
import { startRedis, type RedisServer } from "../../../../scripts/local-servers/redis-server";

export interface CapturedEvent {
  type: string;
  routingKey: string;
  messageId: string;
  payload: Record<string, unknown>;
}

/**
 * Real PostgreSQL, Redis (with a password) and RabbitMQ for one test file: a fresh database,
 * role, vhost and user, the service's real migrations applied, secrets written to files, and
 * a queue bound to the events exchange that records what the service publishes.
 */
export interface UsersTestEnvironment {
  readonly pg: PostgresServer;
  readonly redis: RedisServer;
  readonly rabbit: RabbitNode;
  readonly database: string;
  readonly signingKeyPem: string;
  readonly secretsDir: string;
  readonly events: CapturedEvent[];
  /** The environment server.ts reads; overrides win. */
  env(overrides?: Record<string, string>): Record<string, string>;
  waitForEvent(type: string, matches: (payload: Record<string, unknown>) => boolean): Promise<CapturedEvent>;
  /** After a broker restart: a new observer connection and capture queue. */
  observeEvents(): Promise<void>;
  /** Runs SQL as the superuser in the test database. */
  sql(statement: string): string;
  destroy(): Promise<void>;
}

function secret(dir: string, name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

/**
 * Room for a RabbitMQ boot that fails and the retry: a port the harness picked may be taken by
 * the time the node binds it (several nodes boot on this machine at once), and the harness then
 * starts it again on new ports (scripts/local-servers/free-port.ts, startOnFreePorts).
 */
export const BOOT_TIMEOUT_MS = 240_000;

export async function startUsersTestEnvironment(name: string): Promise<UsersTestEnvironment> {
  const secretsDir = mkdtempSync(join(tmpdir(), `users-${name}-`));
  const redisPassword = randomBytes(18).toString("base64url");
  const [pg, redis, rabbit] = await Promise.all([startPostgres(), startRedis(`requirepass ${redisPassword}\n`, { tls: true }), startRabbit({ tls: true })]);
  // Redis and RabbitMQ speak TLS only, as rendered; the service dials them by the name their
  // test leaf carries and verifies them against the test CA (REDIS_CA_FILE, AMQP_CA_FILE).
  const pki = testPki();

  const database = `users_${name.replace(/[^a-z0-9]/g, "_")}`;
  const dbPassword = randomBytes(18).toString("base64url");
  pg.psql(`create role users_app login password '${dbPassword}'`);
  pg.psql(`create database ${database} owner users_app`);
  const migrationPool = createPgPool({ url: `postgres://users_app@127.0.0.1:${pg.port}/${database}`, password: dbPassword, ca: pg.caPem, applicationName: "users-test-migrate", max: 1 });
  await runMigrations({ pool: migrationPool, directory: join(__dirname, "..", "..", "migrations"), lockName: "users" });
  await migrationPool.end();

  const vhost = `users-${name}`;
  // Hex, not base64url: a password that starts with "-" reads as an option to rabbitmqctl.
  const amqpPassword = randomBytes(18).toString("hex");
  rabbit.ctl(["add_vhost", vhost]);
  rabbit.ctl(["add_user", "users", amqpPassword]);
  rabbit.ctl(["set_permissions", "-p", vhost, "users", ".*", ".*", ".*"]);
  const events: CapturedEvent[] = [];
  let observer: ChannelModel | undefined;
  const observeEvents = async () => {
    await observer?.close().catch(() => undefined);
    observer = await connect({ protocol: "amqps", hostname: pki.serverName, port: rabbit.amqpPort, username: "users", password: amqpPassword, vhost }, { ca: pki.caPem });
    observer.on("error", () => undefined);
    const channel = await observer.createChannel();
    // The broker layer declares the events exchange in production; here the test does it.
    await channel.assertExchange("events", "topic", { durable: true });
    // Durable and not exclusive, so it and its binding outlive a broker restart: an event the
    // service relays after the node is back, before this observer has reconnected, still has a
    // queue to land in (with none bound, the relay rightly drops it as having no subscriber).
    const queue = await channel.assertQueue("test.user-events", { durable: true, exclusive: false });
    await channel.bindQueue(queue.queue, "events", "user.#");
    await channel.consume(
      queue.queue,
      (message: ConsumeMessage | null) => {
        if (!message) return;
        events.push({
          type: String(message.properties.type),
          routingKey: message.fields.routingKey,
          messageId: String(message.properties.messageId),
          payload: JSON.parse(message.content.toString("utf8")) as Record<string, unknown>,
        });
      },
      { noAck: true },
    );
  };
  await observeEvents();

  const { privateKey } = generateKeyPairSync("ed25519");
  const signingKeyPem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const files = {
    DATABASE_PASSWORD_FILE: secret(secretsDir, "db-password", `${dbPassword}\n`),
    DATABASE_CA_FILE: pg.caPath,
    REDIS_PASSWORD_FILE: secret(secretsDir, "redis-password", redisPassword),
    AMQP_PASSWORD_FILE: secret(secretsDir, "amqp-password", amqpPassword),
    JWT_SIGNING_KEY_FILE: secret(secretsDir, "jwt-signing-key.pem", signingKeyPem),
    REDIS_CA_FILE: secret(secretsDir, "redis-ca.crt", pki.caPem),
    AMQP_CA_FILE: secret(secretsDir, "amqp-ca.crt", pki.caPem),
  };

  return {
    pg,
    redis,
    rabbit,
    database,
    signingKeyPem,
    secretsDir,
    events,
    observeEvents,
    env(overrides = {}) {
      return {
        PORT: "0",
        METRICS_PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        DATABASE_URL: `postgres://users_app@127.0.0.1:${pg.port}/${database}`,
        REDIS_URL: `rediss://${pki.serverName}:${redis.port}`,
        AMQP_URL: `amqps://users@${pki.serverName}:${rabbit.amqpPort}/${encodeURIComponent(vhost)}`,
        OUTBOX_POLL_MS: "500",
        ...files,
        ...overrides,
      };
    },
    async waitForEvent(type, matches) {
      let found: CapturedEvent | undefined;
      await waitFor(`event ${type}`, async () => {
        found = events.find((event) => event.type === type && matches(event.payload));
        return found !== undefined;
      }, 60_000); // a restarted RabbitMQ 4.3 node takes a while to take connections again: a wait, not a speed limit
      return found!;
    },
    sql(statement) {
      return pg.psql(statement, database);
    },
    async destroy() {
      await observer?.close().catch(() => undefined);
      await Promise.all([pg.destroy(), redis.destroy(), rabbit.destroy()]);
      rmSync(secretsDir, { recursive: true, force: true });
    },
  };
}
