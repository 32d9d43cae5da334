import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PGBOUNCER_STATS_USER, PgBouncerIniInput, renderPgBouncerIni, renderPgBouncerUserlist } from "../../components/database/postgres/pgbouncer-ini";
import { PGBOUNCER_TLS } from "../../components/database/postgres/pgbouncer";
import { renderPostgresHba } from "../../components/database/postgres/postgres-hba";
import { renderPostgresInitSql, SERVICE_SESSION_DEFAULTS } from "../../components/database/postgres/postgres-init-sql";
import { createPgPool } from "../../services/kit/src/postgres";
import { scramSha256Verifier } from "../../components/database/postgres/postgres-scram";
import { POSTGRES_MAJOR, SERVER_VERSIONS } from "../../components/config/server-versions";
import { PgBouncerServer, startPgBouncer } from "../../scripts/local-servers/pgbouncer-server";
import { PostgresServer, startPostgres } from "../../scripts/local-servers/postgres-server";

const password = (): string => randomBytes(30).toString("base64url").replace(/[-_]/g, "x");
const salt = (): string => randomBytes(16).toString("base64");

const settings = (ini: string): Map<string, string> =>
  new Map(
    ini
      .split("\n")
      .filter((line) => / = /.test(line) && !line.startsWith(";"))
      .map((line) => {
        const [key, ...value] = line.split(" = ");
        return [key.trim(), value.join(" = ")];
      }),
  );

const base: PgBouncerIniInput = {
  postgresHost: "postgres",
  postgresPort: 5432,
  databases: [{ name: "users" }, { name: "gpu_jobs" }],
  defaultPoolSize: 20,
  maxClientConnections: 2000,
  authFile: "/etc/pgbouncer/userlist.txt",
  tls: PGBOUNCER_TLS,
};

describe("renderPgBouncerIni", () => {
  it.each([
    ["pool_mode", "transaction"],
    ["auth_type", "scram-sha-256"],
    ["default_pool_size", "20"],
    ["max_db_connections", "20"],
    ["max_client_conn", "2000"],
    ["listen_port", "6432"],
    ["users", "host=postgres port=5432 dbname=users"],
    ["stats_users", PGBOUNCER_STATS_USER],
    ["client_tls_sslmode", "require"],
    ["client_tls_key_file", PGBOUNCER_TLS.key],
    ["client_tls_cert_file", PGBOUNCER_TLS.cert],
    ["server_tls_sslmode", "verify-full"],
    ["server_tls_ca_file", PGBOUNCER_TLS.ca],
  ])("%s = %s", (key, value) => {
    expect(settings(renderPgBouncerIni(base)).get(key)).toBe(value);
  });

  it("names the field and the reason for bad pool sizes", () => {
    expect(() => renderPgBouncerIni({ ...base, defaultPoolSize: 0 })).toThrow("defaultPoolSize: must be an integer from 1 to 1000 (got 0)");
    expect(() => renderPgBouncerIni({ ...base, maxClientConnections: 5 })).toThrow(
      "maxClientConnections: must be at least defaultPoolSize (20) or the pool can never fill (got 5)",
    );
  });

  it("refuses a password in the userlist: only SCRAM verifiers", () => {
    expect(() => renderPgBouncerUserlist([{ user: "users", scramVerifier: "plain-password" }])).toThrow(/only SCRAM-SHA-256 verifiers/);
  });

  it("property: server connections never exceed the pool size per database, and every database is routed to the server", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/), { minLength: 1, maxLength: 8 }),
        (pool, clients, names) => {
          const input = { ...base, defaultPoolSize: pool, maxClientConnections: Math.max(pool, clients), databases: names.map((name) => ({ name })) };
          const ini = settings(renderPgBouncerIni(input));
          expect(ini.get("max_db_connections")).toBe(String(pool));
          expect(ini.get("default_pool_size")).toBe(String(pool));
          expect(ini.get("pool_mode")).toBe("transaction");
          for (const name of names) expect(ini.get(name)).toBe(`host=postgres port=5432 dbname=${name}`);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe(`PgBouncer ${SERVER_VERSIONS.pgbouncer.debianVersion} with the rendered pgbouncer.ini in front of PostgreSQL ${POSTGRES_MAJOR}`, () => {
  let postgres: PostgresServer;
  let bouncer: PgBouncerServer;
  const usersPassword = password();
  const statsPassword = password();
  const usersVerifier = scramSha256Verifier(usersPassword, salt());

  beforeAll(async () => {
    const sql = renderPostgresInitSql({
      services: [{ role: "users", database: "users", scramVerifier: usersVerifier }],
      monitorVerifier: scramSha256Verifier(password(), salt()),
      backupVerifier: scramSha256Verifier(password(), salt()),
    });
    postgres = await startPostgres({ initSql: [sql], hba: renderPostgresHba() });
    bouncer = await startPgBouncer({
      ini: renderPgBouncerIni({ ...base, postgresHost: postgres.host, postgresPort: postgres.port, databases: [{ name: "users" }], defaultPoolSize: 2, maxClientConnections: 50 }),
      userlist: renderPgBouncerUserlist([
        { user: "users", scramVerifier: usersVerifier },
        { user: PGBOUNCER_STATS_USER, scramVerifier: scramSha256Verifier(statsPassword, salt()) },
      ]),
    });
  });
  afterAll(async () => {
    await bouncer?.destroy();
    await postgres?.destroy();
  });

  const connect = (user: string, pw: string, database = "users") => new Client({ host: bouncer.host, port: bouncer.port, user, password: pw, database, ssl: { ca: bouncer.caPem } });

  it("runs a query with the generated credentials, logging in to PostgreSQL with the client's SCRAM proof", async () => {
    const client = connect("users", usersPassword);
    await client.connect();
    try {
      const { rows } = await client.query("SELECT current_user AS who, current_database() AS db, inet_server_port() AS port");
      expect(rows).toEqual([{ who: "users", db: "users", port: postgres.port }]);
    } finally {
      await client.end();
    }
  });

  it("refuses a wrong password", async () => {
    const client = connect("users", `${usersPassword}x`);
    await expect(client.connect()).rejects.toThrow(/SASL authentication failed/);
  });

  it("pools by transaction: many clients share the two server connections of the pool", async () => {
    const clients = Array.from({ length: 8 }, () => connect("users", usersPassword));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const pids = await Promise.all(clients.map(async (c) => (await c.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number));
      expect(new Set(pids).size).toBeLessThanOrEqual(2);
      expect(Number(postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'users'"))).toBeLessThanOrEqual(2);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  describe("session timeouts: PgBouncer drops the start-up parameters, the service role's defaults govern", () => {
    const seconds = (ms: number) => `${ms / 1000}s`;

    it("a session through PgBouncer as the service role sees the role's timeouts, whatever the client's pool asks for", async () => {
      // The kit's pool sends both as start-up parameters; PgBouncer drops them (ignore_startup_parameters).
      const pool = createPgPool({
        url: `postgres://users@${bouncer.host}:${bouncer.port}/users`,
        password: usersPassword,
        ca: bouncer.caPem,
        applicationName: "timeouts-through-pgbouncer",
        max: 1,
        statementTimeoutMs: 600_000,
        idleInTransactionTimeoutMs: 600_000,
      });
      try {
        const statement = await pool.query<{ statement_timeout: string }>("SHOW statement_timeout");
        const idle = await pool.query<{ idle_in_transaction_session_timeout: string }>("SHOW idle_in_transaction_session_timeout");
        expect(statement.rows[0].statement_timeout).toBe(seconds(SERVICE_SESSION_DEFAULTS.statementTimeoutMs));
        expect(idle.rows[0].idle_in_transaction_session_timeout).toBe(seconds(SERVICE_SESSION_DEFAULTS.idleInTransactionSessionTimeoutMs));
      } finally {
        await pool.end();
      }
    });

    it("a pg_sleep longer than the role's statement_timeout is cancelled by PostgreSQL; a short one completes; the session goes on", async () => {
      const client = connect("users", usersPassword);
      await client.connect();
      try {
        await client.query("SELECT pg_sleep(0.2)");
        const started = Date.now();
        const error = await client.query(`SELECT pg_sleep(${SERVICE_SESSION_DEFAULTS.statementTimeoutMs / 1000 + 3})`).then(
          () => undefined,
          (e: Error & { code?: string }) => e,
        );
        const elapsed = Date.now() - started;
        expect(error?.message).toMatch(/canceling statement due to statement timeout/);
        expect(error?.code).toBe("57014");
        expect(elapsed).toBeGreaterThanOrEqual(SERVICE_SESSION_DEFAULTS.statementTimeoutMs - 100);
        expect(elapsed).toBeLessThan(SERVICE_SESSION_DEFAULTS.statementTimeoutMs + 2_900);
        expect((await client.query("SELECT 1 AS ok")).rows).toEqual([{ ok: 1 }]);
      } finally {
        await client.end();
      }
    }, 30_000);

    it("a transaction left idle past the role's idle_in_transaction_session_timeout is ended and its row lock released", async () => {
      postgres.psql("CREATE TABLE IF NOT EXISTS public.timeout_probe (id int PRIMARY KEY, n int)", "users");
      postgres.psql("ALTER TABLE public.timeout_probe OWNER TO users; INSERT INTO public.timeout_probe VALUES (1, 0) ON CONFLICT DO NOTHING", "users");
      const holder = connect("users", usersPassword);
      const other = connect("users", usersPassword);
      holder.on("error", () => undefined);
      await holder.connect();
      await other.connect();
      try {
        await holder.query("BEGIN");
        await holder.query("SELECT n FROM public.timeout_probe WHERE id = 1 FOR UPDATE");
        await new Promise((resolve) => setTimeout(resolve, SERVICE_SESSION_DEFAULTS.idleInTransactionSessionTimeoutMs + 1_500));
        // The lock is gone: the update does not wait (it would be cancelled after 5 s if it did).
        const started = Date.now();
        await other.query("UPDATE public.timeout_probe SET n = n + 1 WHERE id = 1");
        expect(Date.now() - started).toBeLessThan(2_000);
        await expect(holder.query("SELECT 1")).rejects.toThrow();
      } finally {
        await other.end();
        await holder.end().catch(() => undefined);
      }
    }, 40_000);

    it("directly to PostgreSQL the kit's start-up parameter reaches the server; without one the role's default applies", async () => {
      const direct = (statementTimeoutMs?: number) =>
        createPgPool({ url: `postgres://users@${postgres.host}:${postgres.port}/users`, password: usersPassword, ca: postgres.caPem, applicationName: "timeouts-direct", max: 1, statementTimeoutMs });
      const asked = direct(60_000);
      const unset = direct();
      try {
        expect((await asked.query<{ statement_timeout: string }>("SHOW statement_timeout")).rows[0].statement_timeout).toBe("1min");
        expect((await unset.query<{ statement_timeout: string }>("SHOW statement_timeout")).rows[0].statement_timeout).toBe(seconds(SERVICE_SESSION_DEFAULTS.statementTimeoutMs));
      } finally {
        await asked.end();
        await unset.end();
      }
    });
  });

  it("lets the stats user read pool statistics on the admin console, and nothing else", async () => {
    const client = connect(PGBOUNCER_STATS_USER, statsPassword, "pgbouncer");
    await client.connect();
    try {
      // Without parameters node-postgres uses the simple query protocol, the only one the console speaks.
      const pools = await client.query<{ database: string; pool_mode: string }>("SHOW POOLS");
      expect(pools.rows.some((row) => row.database === "users" && row.pool_mode === "transaction")).toBe(true);
      await expect(client.query("PAUSE")).rejects.toThrow(/admin access needed/);
    } finally {
      await client.end();
    }
  });
});
