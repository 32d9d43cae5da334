// One-shot migration job: applies migrations/ under an advisory lock, then exits.
import { join } from "node:path";
import { createPgPool, env, exitOnStartupError, loadEnv, runMigrations } from "@fundament/kit";

async function main(): Promise<void> {
  const config = loadEnv({
    DATABASE_URL: env.url({ protocols: ["postgres", "postgresql"] }),
    DATABASE_PASSWORD: env.secretFile({ description: "the database user's password" }),
    DATABASE_CA: env.caCertificate({ description: "the platform CA PostgreSQL's and PgBouncer's certificates are verified against (give its path as DATABASE_CA_FILE)" }),
  });
  const pool = createPgPool({ url: config.DATABASE_URL, password: config.DATABASE_PASSWORD, ca: config.DATABASE_CA, applicationName: "users-migrate", max: 1 });
  try {
    const result = await runMigrations({ pool, directory: join(__dirname, "..", "migrations"), lockName: "users", log: (line) => process.stdout.write(`${line}\n`) });
    process.stdout.write(`migrations: ${result.applied.length} applied, ${result.alreadyApplied} already applied\n`);
  } finally {
    await pool.end();
  }
}

main().catch(exitOnStartupError);
