import { createLogger, createPgPool, exitOnStartupError, loadEnv, runMigrations } from "@fundament/kit";
import { MIGRATIONS_DIR } from "./migrations-dir";
import { migrateEnv } from "./service-env";

/** The one-shot job run before the service starts; safe to run from several replicas at once. */
async function main(): Promise<void> {
  const config = loadEnv(migrateEnv);
  const logger = createLogger({ service: "gpu-jobs-migrate", level: config.LOG_LEVEL });
  const pool = createPgPool({ url: config.DATABASE_URL, password: config.DATABASE_PASSWORD, ca: config.DATABASE_CA, applicationName: "gpu-jobs-migrate", max: 1 });
  try {
    const result = await runMigrations({ pool, directory: MIGRATIONS_DIR, lockName: "gpu-jobs", log: (message) => logger.info(message) });
    logger.info({ applied: result.applied, alreadyApplied: result.alreadyApplied }, "migrations done");
  } finally {
    await pool.end();
  }
}

main().catch(exitOnStartupError);
