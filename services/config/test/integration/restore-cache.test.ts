// A restored database under a warm Redis cache: the service must serve what the restored database
// holds, never a version that only the lost history had (the restored history reuses its numbers).
import { join } from "node:path";
import { createJwksVerifier, createPgPool, createRedis, type ServiceApp } from "@fundament/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type PostgresServer } from "../../../../scripts/local-servers/postgres-server";
import { buildApp } from "../../src/app";
import { listenConnection, PostgresChangeFeed } from "../../src/change-feed";
import { AUDIENCE, ISSUER, quietLogger, startConfigServers, type ConfigServers } from "./config-servers";
import { roleDefaults } from "../../../../components/database/postgres/postgres-init-sql";

let servers: ConfigServers;
let token: string;
let dumpFile: string;
const apps: ServiceApp[] = [];
const others: PostgresServer[] = [];
const database = `config_${process.pid}`;
const entry = "/namespaces/app/environments/prod";

/** The service as deployed, against `postgres` and the shared Redis. */
async function service(postgres: PostgresServer): Promise<ServiceApp> {
  const url = `postgres://config@127.0.0.1:${postgres.port}/${database}`;
  const logger = quietLogger();
  const app = await buildApp({
    logger,
    pool: createPgPool({ url, password: servers.databasePassword, ca: servers.databaseCa, applicationName: "config-restore-test" }),
    redis: createRedis({ url: servers.redisUrl, tls: servers.redisTls, connectionName: "config-restore-test" }),
    changeFeed: await PostgresChangeFeed.start({ connection: listenConnection(url, servers.databasePassword, servers.databaseCa), logger }),
    verifier: await createJwksVerifier({ jwksUrl: servers.jwks.url, issuer: ISSUER, audience: AUDIENCE }),
    // A long TTL: the bug this guards against lasted until the TTL ran out.
    cacheTtlSeconds: 3600,
    databaseIdentityCheckMs: 200,
  });
  await app.ready();
  apps.push(app);
  return app;
}

async function read(app: ServiceApp) {
  const response = await app.inject({ method: "GET", url: entry });
  return { status: response.statusCode, body: response.json() as { version?: number; document?: unknown } };
}

async function write(app: ServiceApp, document: Record<string, unknown>) {
  const response = await app.inject({ method: "PUT", url: entry, headers: { authorization: `Bearer ${token}` }, payload: { document, reason: "restore test" } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { version: number };
}

/** Restores the dump taken at version 1 as the same database name, the way postgres-restore.sh does. */
function restoreInto(postgres: PostgresServer): void {
  postgres.psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  const restored = postgres.run("pg_restore", ["--create", "--exit-on-error", "--dbname=postgres", dumpFile]);
  expect(restored.status, restored.stderr).toBe(0);
}

beforeAll(async () => {
  servers = await startConfigServers({ rabbit: false });
  token = await servers.jwks.sign({ sub: "ops", roles: ["config:write"] });
  const original = await service(servers.postgres);
  expect((await original.inject({ method: "PUT", url: "/namespaces/app", headers: { authorization: `Bearer ${token}` }, payload: { schema: { type: "object" } } })).statusCode).toBe(201);
  await write(original, { n: 1 });
  // The backup: taken at version 1, into a directory the postgres user owns.
  dumpFile = join(servers.postgres.socketDir, "config.dump");
  const dumped = servers.postgres.run("pg_dump", ["--format=custom", `--file=${dumpFile}`, `--dbname=${database}`]);
  expect(dumped.status, dumped.stderr).toBe(0);
  // History the backup does not have, and a cache that holds its newest version.
  await write(original, { n: 2 });
  await write(original, { n: 3 });
  expect((await read(original)).body).toMatchObject({ version: 3, document: { n: 3 } });
});

afterAll(async () => {
  await Promise.allSettled(apps.map((app) => app.close()));
  await Promise.allSettled(others.map((server) => server.destroy()));
  await servers?.stop();
});

describe("a restored database under a warm cache", () => {
  it("a service on a fresh cluster restored from the backup serves the restored version, and its own new writes", async () => {
    const fresh = await startPostgres();
    others.push(fresh);
    fresh.psql(`CREATE ROLE config LOGIN PASSWORD '${servers.databasePassword}'`);
    for (const statement of roleDefaults("config")) fresh.psql(statement);
    restoreInto(fresh);
    const app = await service(fresh);
    expect(await read(app)).toMatchObject({ status: 200, body: { version: 1, document: { n: 1 } } });
    // The restored history reuses version 2: the lost history's version 2 or 3 must not answer for it.
    expect(await write(app, { n: "after restore" })).toMatchObject({ version: 2 });
    expect((await read(app)).body).toMatchObject({ version: 2, document: { n: "after restore" } });
  });

  it("a running service whose database is restored in place stops serving the lost versions", async () => {
    const app = apps[0];
    expect((await read(app)).body).toMatchObject({ version: 3 });
    restoreInto(servers.postgres);
    // The service notices the new database within its identity check period (200 ms here).
    await expect.poll(async () => (await read(app)).body, { timeout: 10_000, interval: 100 }).toMatchObject({ version: 1, document: { n: 1 } });
    expect(await write(app, { n: "after in-place restore" })).toMatchObject({ version: 2 });
    expect((await read(app)).body).toMatchObject({ version: 2, document: { n: "after in-place restore" } });
  });
});
