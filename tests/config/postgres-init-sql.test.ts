import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKUP_ROLE, MONITOR_ROLE, serviceDatabaseProblems, serviceRoleName } from "../../components/database/postgres/postgres-databases";
import { renderPostgresHba } from "../../components/database/postgres/postgres-hba";
import { MONITOR_SESSION_DEFAULTS, renderPostgresInitSql, SERVICE_SESSION_DEFAULTS, ServiceRole } from "../../components/database/postgres/postgres-init-sql";
import { scramSha256Verifier } from "../../components/database/postgres/postgres-scram";
import { POSTGRES_MAJOR } from "../../components/config/server-versions";
import { PostgresServer, startPostgres } from "../../scripts/local-servers/postgres-server";

const password = (): string => randomBytes(30).toString("base64url").replace(/[-_]/g, "x");
const salt = (): string => randomBytes(16).toString("base64");

interface Login {
  user: string;
  password: string;
}

async function query(server: PostgresServer, login: Login, database: string, sql: string): Promise<unknown[]> {
  const client = new Client({ host: server.host, port: server.port, user: login.user, password: login.password, database, ssl: { ca: server.caPem } });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("renderPostgresInitSql", () => {
  const sample: ServiceRole[] = [
    { role: "users", database: "users", scramVerifier: "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy" },
    { role: "gpu_jobs", database: "gpu_jobs", scramVerifier: "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy" },
  ];
  const sql = renderPostgresInitSql({ services: sample, monitorVerifier: "SCRAM-SHA-256$4096:bQ==$bQ==:bQ==", backupVerifier: "SCRAM-SHA-256$4096:Yg==$Yg==:Yg==" });

  it.each([
    ['CREATE ROLE "users" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD \'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy\';'],
    ['CREATE DATABASE "gpu_jobs" OWNER "gpu_jobs";'],
    ['REVOKE ALL ON DATABASE "users" FROM PUBLIC;'],
    ["REVOKE CONNECT, TEMPORARY ON DATABASE postgres FROM PUBLIC;"],
    [`GRANT pg_monitor TO "${MONITOR_ROLE}";`],
    [`GRANT pg_read_all_data TO "${BACKUP_ROLE}";`],
    ['ALTER ROLE "users" SET statement_timeout = 5000;'],
    ['ALTER ROLE "gpu_jobs" SET idle_in_transaction_session_timeout = 10000;'],
    [`ALTER ROLE "${MONITOR_ROLE}" SET statement_timeout = 15000;`],
  ])("contains %s", (line) => {
    expect(sql.split("\n")).toContain(line);
  });

  it("property: never contains a password, only the verifiers, and one owner role per database", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), { minLength: 1, maxLength: 6 }).filter((names) => serviceDatabaseProblems(names.map((n) => ({ service: n, database: serviceRoleName(n) }))).length === 0 && new Set(names.map(serviceRoleName)).size === names.length),
        fc.string({ minLength: 16, maxLength: 40, unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") }),
        (services, secret) => {
          const roles = services.map((s) => ({ role: serviceRoleName(s), database: serviceRoleName(s), scramVerifier: scramSha256Verifier(secret + s, "c2FsdHNhbHRzYWx0") }));
          const rendered = renderPostgresInitSql({ services: roles, monitorVerifier: scramSha256Verifier(secret, "bW9uaXRvcm1vbml0b3I="), backupVerifier: scramSha256Verifier(secret, "YmFja3VwYmFja3Vw") });
          expect(rendered).not.toContain(secret);
          for (const role of roles) {
            expect(rendered.split("\n").filter((l) => l === `CREATE DATABASE "${role.database}" OWNER "${role.role}";`)).toHaveLength(1);
            expect(rendered).toContain(role.scramVerifier);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it("gives every service role both session timeouts, and the backup role none (pg_dump sets its own)", () => {
    const lines = sql.split("\n");
    for (const role of ["users", "gpu_jobs"]) {
      expect(lines.filter((l) => l.startsWith(`ALTER ROLE "${role}" SET `))).toEqual([
        `ALTER ROLE "${role}" SET statement_timeout = ${SERVICE_SESSION_DEFAULTS.statementTimeoutMs};`,
        `ALTER ROLE "${role}" SET idle_in_transaction_session_timeout = ${SERVICE_SESSION_DEFAULTS.idleInTransactionSessionTimeoutMs};`,
      ]);
    }
    expect(lines.filter((l) => l.startsWith(`ALTER ROLE "${BACKUP_ROLE}"`))).toEqual([]);
  });

  it("names the field and the reason for bad session timeouts (0 would mean no limit)", () => {
    expect(() =>
      renderPostgresInitSql({ services: sample, monitorVerifier: "v", backupVerifier: "v", serviceSessionDefaults: { statementTimeoutMs: 0, idleInTransactionSessionTimeoutMs: 1.5 } }),
    ).toThrow(
      "serviceSessionDefaults.statementTimeoutMs: must be an integer of milliseconds from 1 to 2147483647 (got 0)\nserviceSessionDefaults.idleInTransactionSessionTimeoutMs: must be an integer of milliseconds from 1 to 2147483647 (got 1.5)",
    );
  });

  it("names the field and the reason for bad service lists", () => {
    expect(serviceDatabaseProblems([{ service: "Users", database: "users" }])).toEqual([
      'databases[0].service: must be lower-case letters, digits and hyphens, starting with a letter, at most 63 characters (got "Users")',
    ]);
    expect(serviceDatabaseProblems([{ service: "a", database: "shared" }, { service: "b", database: "shared" }])).toEqual([
      'databases[1].database: "shared" is already used by databases[0]; each service gets its own database',
    ]);
    expect(serviceDatabaseProblems([{ service: "x", database: "postgres" }])).toEqual(['databases[0].database: "postgres" is reserved']);
  });
});

describe(`PostgreSQL ${POSTGRES_MAJOR} initialised with the rendered init SQL`, () => {
  let server: PostgresServer;
  const users: Login = { user: "users", password: password() };
  const gpuJobs: Login = { user: "gpu_jobs", password: password() };
  const monitor: Login = { user: MONITOR_ROLE, password: password() };
  const backup: Login = { user: BACKUP_ROLE, password: password() };

  beforeAll(async () => {
    const sql = renderPostgresInitSql({
      services: [
        { role: users.user, database: "users", scramVerifier: scramSha256Verifier(users.password, salt()) },
        { role: gpuJobs.user, database: "gpu_jobs", scramVerifier: scramSha256Verifier(gpuJobs.password, salt()) },
      ],
      monitorVerifier: scramSha256Verifier(monitor.password, salt()),
      backupVerifier: scramSha256Verifier(backup.password, salt()),
    });
    server = await startPostgres({ initSql: [sql], hba: renderPostgresHba() });
  });
  afterAll(async () => server?.destroy());

  it("lets each service role log in with its generated password to its own database and create tables there", async () => {
    await query(server, users, "users", "CREATE TABLE accounts (id int PRIMARY KEY)");
    expect(await query(server, users, "users", "SELECT current_user AS who, current_database() AS db")).toEqual([{ who: "users", db: "users" }]);
    expect(await query(server, gpuJobs, "gpu_jobs", "SELECT current_database() AS db")).toEqual([{ db: "gpu_jobs" }]);
  });

  it("refuses a service role another service's database and the maintenance databases", async () => {
    await expect(query(server, users, "gpu_jobs", "SELECT 1")).rejects.toThrow(/permission denied for database "gpu_jobs"/);
    await expect(query(server, gpuJobs, "users", "SELECT 1")).rejects.toThrow(/permission denied for database "users"/);
    await expect(query(server, users, "postgres", "SELECT 1")).rejects.toThrow(/permission denied for database "postgres"/);
  });

  it("refuses a service role creating databases or roles", async () => {
    await expect(query(server, users, "users", "CREATE DATABASE sneaky")).rejects.toThrow(/permission denied to create database/);
    await expect(query(server, users, "users", "CREATE ROLE sneaky")).rejects.toThrow(/permission denied to create role/);
  });

  it("refuses a wrong password", async () => {
    await expect(query(server, { user: "users", password: `${users.password}x` }, "users", "SELECT 1")).rejects.toThrow(/password authentication failed/);
  });

  it("lets the backup role read every service database but not write to it", async () => {
    expect(await query(server, backup, "users", "SELECT count(*)::int AS n FROM accounts")).toEqual([{ n: 0 }]);
    await expect(query(server, backup, "users", "INSERT INTO accounts VALUES (1)")).rejects.toThrow(/permission denied for table accounts/);
  });

  it("lets the monitor role read server statistics and the backup status, nothing of the services", async () => {
    expect(await query(server, monitor, "postgres", "SELECT count(*)::int > 0 AS ok FROM pg_stat_activity WHERE query <> ''")).toEqual([{ ok: true }]);
    expect(await query(server, monitor, "postgres", "SELECT count(*)::int AS n FROM fundament.backup_status")).toEqual([{ n: 0 }]);
    await expect(query(server, monitor, "users", "SELECT 1")).rejects.toThrow(/permission denied for database "users"/);
  });

  it("property: scramSha256Verifier computes exactly the verifier PostgreSQL stores for a password and salt", () => {
    server.psql("CREATE ROLE scram_probe");
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64, unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") }), (secret) => {
        server.psql(`ALTER ROLE scram_probe PASSWORD '${secret}'`);
        const stored = server.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_probe'");
        const saltBase64 = /^SCRAM-SHA-256\$4096:([^$]+)\$/.exec(stored)?.[1] ?? "";
        expect(scramSha256Verifier(secret, saltBase64)).toBe(stored);
      }),
      { numRuns: 20 },
    );
  });

  it("stores the roles' session timeouts in PostgreSQL: every session of the role starts with them", async () => {
    const show = async (login: Login, database: string) =>
      (await query(server, login, database, "SELECT current_setting('statement_timeout') AS s, current_setting('idle_in_transaction_session_timeout') AS i"))[0];
    const secondsOf = (ms: number) => `${ms / 1000}s`;
    expect(await show(users, "users")).toEqual({ s: secondsOf(SERVICE_SESSION_DEFAULTS.statementTimeoutMs), i: secondsOf(SERVICE_SESSION_DEFAULTS.idleInTransactionSessionTimeoutMs) });
    expect(await show(gpuJobs, "gpu_jobs")).toEqual({ s: secondsOf(SERVICE_SESSION_DEFAULTS.statementTimeoutMs), i: secondsOf(SERVICE_SESSION_DEFAULTS.idleInTransactionSessionTimeoutMs) });
    expect(await show(monitor, "postgres")).toEqual({ s: secondsOf(MONITOR_SESSION_DEFAULTS.statementTimeoutMs), i: secondsOf(MONITOR_SESSION_DEFAULTS.idleInTransactionSessionTimeoutMs) });
    expect(await show(backup, "users")).toEqual({ s: "0", i: "0" });
  });

  it("never sees a plain-text password: pg_authid holds the rendered verifiers", () => {
    expect(server.psql(`SELECT rolpassword LIKE 'SCRAM-SHA-256$4096:%' FROM pg_authid WHERE rolname = 'users'`)).toBe("t");
  });
});
