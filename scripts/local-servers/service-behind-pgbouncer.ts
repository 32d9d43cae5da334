import { randomBytes } from "node:crypto";
import { renderPgBouncerIni, renderPgBouncerUserlist } from "../../components/database/postgres/pgbouncer-ini";
import { PGBOUNCER_TLS } from "../../components/database/postgres/pgbouncer";
import { roleDefaults } from "../../components/database/postgres/postgres-init-sql";
import { scramSha256Verifier } from "../../components/database/postgres/postgres-scram";
import { startPgBouncer, type PgBouncerServer } from "./pgbouncer-server";
import { startPostgres, type PostgresServer } from "./postgres-server";

export interface ServiceBehindPgBouncer {
  postgres: PostgresServer;
  pgbouncer: PgBouncerServer;
  /** The service role's generated password (SCRAM on both paths). */
  password: string;
  destroy(): Promise<void>;
}

/**
 * A service's database as the platform deploys it: its role with the platform's role defaults
 * (components/database/postgres/postgres-init-sql.ts) owning its database, and PgBouncer in
 * transaction pooling in front, from the rendered pgbouncer.ini, with fewer server connections
 * than clients so that they are shared.
 */
export async function startServiceBehindPgBouncer(options: { role: string; database: string; poolSize: number; maxClients: number }): Promise<ServiceBehindPgBouncer> {
  const password = randomBytes(18).toString("hex");
  // PgBouncer logs in to PostgreSQL with the client's SCRAM keys: both must hold the same verifier.
  const verifier = scramSha256Verifier(password, randomBytes(16).toString("base64"));
  const postgres = await startPostgres();
  try {
    postgres.psql(`CREATE ROLE ${options.role} LOGIN PASSWORD '${verifier}'`);
    postgres.psql(`CREATE DATABASE ${options.database} OWNER ${options.role}`);
    for (const statement of roleDefaults(options.role)) postgres.psql(statement);
    const pgbouncer = await startPgBouncer({
      ini: renderPgBouncerIni({
        postgresHost: "localhost",
        postgresPort: postgres.port,
        databases: [{ name: options.database }],
        defaultPoolSize: options.poolSize,
        maxClientConnections: options.maxClients,
        authFile: "/unused",
        tls: PGBOUNCER_TLS,
      }),
      userlist: renderPgBouncerUserlist([{ user: options.role, scramVerifier: verifier }]),
    });
    return {
      postgres,
      pgbouncer,
      password,
      async destroy() {
        await pgbouncer.destroy();
        await postgres.destroy();
      },
    };
  } catch (error) {
    await postgres.destroy();
    throw error;
  }
}
