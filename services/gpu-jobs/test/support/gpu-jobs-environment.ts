import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJwksVerifier, createLogger, createPgPool, runMigrations, type Tracing } from "@fundament/kit";
import { startPostgres, type PostgresServer } from "../../../../scripts/local-servers/postgres-server";
import { startJwksServer, type JwksServer } from "../../../config/test/integration/jwks-server";
import { buildApp, type GpuJobsApp, type GpuJobsMessaging, type PlacementSettings } from "../../src/app";
import { MIGRATIONS_DIR } from "../../src/migrations-dir";
import type { Provider } from "../../src/placement/rank-offers";
import type { ProviderAdapter } from "../../src/providers/provider-adapter";
import { roleDefaults } from "../../../../components/database/postgres/postgres-init-sql";

export const ISSUER = "https://users.fundament.test";
export const AUDIENCE = "fundament";

/** Real PostgreSQL with the service's migrations, a JWKS server standing in for the users service's, and a secrets directory. */
export interface GpuJobsEnvironment {
  postgres: PostgresServer;
  jwks: JwksServer;
  databaseUrl: string;
  databasePassword: string;
  /** The CA PostgreSQL's certificate chains to (the harness CA). */
  databaseCa: string;
  databaseCaPath: string;
  secretsDir: string;
  /** A fresh app over the same database, as a restarted replica would be. */
  app(adapters: ReadonlyMap<Provider, ProviderAdapter>, options?: AppOptions): Promise<GpuJobsApp>;
  token(roles: string[], subject?: string): Promise<string>;
  sql(statement: string): string;
  stop(): Promise<void>;
}

export interface AppOptions {
  owner?: string;
  placement?: Partial<PlacementSettings>;
  /** Commands and events through RabbitMQ (the app owns it from here: closed with the app). */
  messaging?: GpuJobsMessaging;
  /** The outbox relay's poll with messaging (default 1000 ms). */
  outboxPollMs?: number;
  tracing?: Tracing;
  /** Default false: tests drive the runner themselves. */
  startLoop?: boolean;
}

export const TEST_PLACEMENT: PlacementSettings = {
  attemptTimeoutMs: 3000,
  maxAttempts: 6,
  providerBackoffMs: 60_000,
  offerTtlMs: 0,
  reliabilityPrior: 0.95,
  leaseMs: 2000,
  loopIntervalMs: 60_000,
  reapIntervalMs: 60_000,
};

export async function startGpuJobsEnvironment(): Promise<GpuJobsEnvironment> {
  const secretsDir = mkdtempSync(join(tmpdir(), "gpu-jobs-secrets-"));
  const postgres = await startPostgres();
  const databasePassword = randomBytes(18).toString("hex");
  const database = `gpu_jobs_${process.pid}`;
  postgres.psql(`CREATE ROLE gpu_jobs LOGIN PASSWORD '${databasePassword}'`);
  postgres.psql(`CREATE DATABASE ${database} OWNER gpu_jobs`);
  // The limits the platform's init SQL gives every service role.
  for (const statement of roleDefaults("gpu_jobs")) postgres.psql(statement);
  const databaseUrl = `postgres://gpu_jobs@127.0.0.1:${postgres.port}/${database}`;
  const migrate = createPgPool({ url: databaseUrl, password: databasePassword, ca: postgres.caPem, applicationName: "gpu-jobs-test-migrate", max: 1 });
  await runMigrations({ pool: migrate, directory: MIGRATIONS_DIR, lockName: "gpu-jobs" });
  await migrate.end();
  const jwks = await startJwksServer({ issuer: ISSUER, audience: AUDIENCE });
  writeFileSync(join(secretsDir, "hf-token"), "hf_secret_value\n", { mode: 0o600 });
  const apps: GpuJobsApp[] = [];
  return {
    postgres,
    jwks,
    databaseUrl,
    databasePassword,
    databaseCa: postgres.caPem,
    databaseCaPath: postgres.caPath,
    secretsDir,
    async app(adapters, options = {}) {
      const built = await buildApp({
        logger: createLogger({ service: "gpu-jobs", level: process.env.GPU_JOBS_TEST_LOG_LEVEL ?? "silent" }),
        pool: createPgPool({ url: databaseUrl, password: databasePassword, ca: postgres.caPem, applicationName: "gpu-jobs-test", max: 5 }),
        verifier: await createJwksVerifier({ jwksUrl: jwks.url, issuer: ISSUER, audience: AUDIENCE, cooldownMs: 0 }),
        adapters,
        secretsDir,
        owner: options.owner ?? `test-${apps.length}`,
        placement: { ...TEST_PLACEMENT, ...options.placement },
        startLoop: options.startLoop ?? false,
        ...(options.messaging ? { messaging: options.messaging, outboxPollMs: options.outboxPollMs ?? 1000 } : {}),
        ...(options.tracing ? { tracing: options.tracing } : {}),
      });
      apps.push(built);
      return built;
    },
    token: (roles, subject = "user-1") => jwks.sign({ sub: subject, roles }),
    sql: (statement) => postgres.psql(statement, database),
    async stop() {
      for (const built of apps) await built.app.close().catch(() => undefined);
      await jwks.close();
      await postgres.destroy();
      rmSync(secretsDir, { recursive: true, force: true });
    },
  };
}
