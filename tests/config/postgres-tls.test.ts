// PostgreSQL and PgBouncer with exactly the rendered TLS settings (postgresql.conf, pg_hba.conf,
// pgbouncer.ini), certificates from a test CA made the way the platform PKI makes them: a client
// that verifies against the CA connects; plain text, a client trusting another CA and a client
// dialling a name the leaf does not carry are refused. Both ways the key reaches the server are
// started: owned by the server's user with mode 0400 (Docker's upload) and owned by root,
// group-readable through fsGroup (a Kubernetes Secret volume).
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync } from "node:fs";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgPool } from "../../services/kit/src/postgres";
import { POSTGRES_MAJOR, SERVER_VERSIONS } from "../../components/config/server-versions";
import { PGBOUNCER_STATS_USER, renderPgBouncerIni, renderPgBouncerUserlist } from "../../components/database/postgres/pgbouncer-ini";
import { renderPostgresConf } from "../../components/database/postgres/postgres-conf";
import { renderPostgresHba } from "../../components/database/postgres/postgres-hba";
import { renderPostgresInitSql } from "../../components/database/postgres/postgres-init-sql";
import { scramSha256Verifier } from "../../components/database/postgres/postgres-scram";
import { PgBouncerServer, startPgBouncer } from "../../scripts/local-servers/pgbouncer-server";
import { POSTGRES_BIN, PostgresServer, startPostgres } from "../../scripts/local-servers/postgres-server";
import { WaitAbandoned, waitFor } from "../../scripts/local-servers/free-port";
import { runAs } from "../../scripts/local-servers/server-process";
import { createTestCa, TestCa } from "../../scripts/local-servers/test-pki";
import { testServer } from "../../scripts/local-servers/test-roots";

const secret = (): string => randomBytes(24).toString("hex");
const salt = (): string => randomBytes(16).toString("base64");
const sizing = { resources: { cpu: 1, memoryMiB: 512 }, maxConnections: 20, storageGiB: 1 };

/** A query through the kit's pool: what the services do. */
async function kitQuery(url: string, password: string, ca: string): Promise<{ ssl: boolean; version: string }> {
  const pool = createPgPool({ url, password, ca, applicationName: "tls-test", max: 1, connectionTimeoutMs: 20_000 });
  try {
    const { rows } = await pool.query<{ ssl: boolean; version: string }>("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    return rows[0];
  } finally {
    await pool.end();
  }
}

/** A client that offers no TLS at all (node-postgres with ssl off). */
async function plainConnect(host: string, port: number, user: string, password: string, database: string): Promise<void> {
  const client = new Client({ host, port, user, password, database, ssl: false, connectionTimeoutMillis: 20_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe(`PostgreSQL ${POSTGRES_MAJOR} and PgBouncer ${SERVER_VERSIONS.pgbouncer.debianVersion} with the rendered TLS settings`, () => {
  let platform: TestCa;
  let other: TestCa;
  let postgres: PostgresServer;
  let bouncer: PgBouncerServer;
  const appPassword = secret();
  const appVerifier = scramSha256Verifier(appPassword, salt());

  beforeAll(async () => {
    platform = createTestCa("fundament platform CA (test)");
    other = createTestCa("another CA");
    const pgUser = testServer("postgres").user;
    // Docker's upload: owned by the server's user, mode 0400.
    const leaf = platform.leaf("postgres", ["localhost"], { owner: pgUser });
    postgres = await startPostgres({
      conf: renderPostgresConf({ ...sizing, tls: { ca: platform.caPath, cert: leaf.certPath, key: leaf.keyPath } }),
      hba: renderPostgresHba(),
      tls: "rendered",
      initSql: [
        renderPostgresInitSql({
          services: [{ role: "app", database: "app", scramVerifier: appVerifier }],
          monitorVerifier: scramSha256Verifier(secret(), salt()),
          backupVerifier: scramSha256Verifier(secret(), salt()),
        }),
      ],
    });
    const bouncerUser = testServer("pgbouncer").user;
    const bouncerLeaf = platform.leaf("pgbouncer", ["localhost"], { owner: bouncerUser });
    bouncer = await startPgBouncer({
      ini: renderPgBouncerIni({
        // The name PostgreSQL's leaf carries: PgBouncer verifies it (verify-full).
        postgresHost: "localhost",
        postgresPort: postgres.port,
        databases: [{ name: "app" }],
        defaultPoolSize: 2,
        maxClientConnections: 20,
        authFile: "/unused/replaced-by-the-harness",
        tls: { ca: platform.caPath, cert: bouncerLeaf.certPath, key: bouncerLeaf.keyPath },
      }),
      userlist: renderPgBouncerUserlist([
        { user: "app", scramVerifier: appVerifier },
        { user: PGBOUNCER_STATS_USER, scramVerifier: scramSha256Verifier(secret(), salt()) },
      ]),
      tls: "rendered",
    });
  }, 240_000);
  afterAll(async () => {
    await bouncer?.destroy();
    await postgres?.destroy();
    platform?.remove();
    other?.remove();
  });

  describe("PostgreSQL", () => {
    const url = (host: string) => `postgres://app@${host}:${postgres.port}/app?sslmode=verify-full`;

    it("accepts a client that verifies its certificate and host name against the platform CA, at TLS 1.2 or later", async () => {
      const session = await kitQuery(url("localhost"), appPassword, platform.caPem);
      expect(session.ssl).toBe(true);
      expect(["TLSv1.2", "TLSv1.3"]).toContain(session.version);
    });

    it("refuses a login without TLS: no pg_hba.conf line admits it", async () => {
      await expect(plainConnect("127.0.0.1", postgres.port, "app", appPassword, "app")).rejects.toThrow(/no pg_hba\.conf entry .*no encryption/);
    });

    it("is refused by a client that trusts another CA", async () => {
      await expect(kitQuery(url("localhost"), appPassword, other.caPem)).rejects.toThrow(/self[- ]signed certificate|unable to (get local issuer|verify)/);
    });

    it("fails verification when the client dials a name the leaf does not carry", async () => {
      await expect(kitQuery(url("127.0.0.1"), appPassword, platform.caPem)).rejects.toThrow(/IP: 127\.0\.0\.1 is not in the cert's list|does not match/);
    });

    it("libpq (psql, pg_dump, the exporters' lib/pq) verifies the same way with sslmode=verify-full", () => {
      const psql = (host: string, root: string) =>
        runAs(postgres.user, `${POSTGRES_BIN}/psql`, ["-X", "-At", "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"], {
          env: { HOME: postgres.socketDir, PGHOST: host, PGPORT: String(postgres.port), PGUSER: "app", PGDATABASE: "app", PGPASSWORD: appPassword, PGSSLMODE: "verify-full", PGSSLROOTCERT: root, PGCONNECT_TIMEOUT: "20" },
        });
      const good = psql("localhost", platform.caPath);
      expect(good.stderr).toBe("");
      expect(good.stdout.trim()).toBe("t");
      expect(psql("localhost", other.caPath).stderr).toMatch(/certificate verify failed/);
      expect(psql("127.0.0.1", platform.caPath).stderr).toMatch(/server certificate for "localhost".* does not match host name "127\.0\.0\.1"/);
      // What the README gives for a published port on dev: dial the address, verify the leaf's name.
      const byAddress = runAs(postgres.user, `${POSTGRES_BIN}/psql`, ["-X", "-At", "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"], {
        env: { HOME: postgres.socketDir, PGHOST: "localhost", PGHOSTADDR: "127.0.0.1", PGPORT: String(postgres.port), PGUSER: "app", PGDATABASE: "app", PGPASSWORD: appPassword, PGSSLMODE: "verify-full", PGSSLROOTCERT: platform.caPath, PGCONNECT_TIMEOUT: "20" },
      });
      expect(byAddress.stderr).toBe("");
      expect(byAddress.stdout.trim()).toBe("t");
      const plain = runAs(postgres.user, `${POSTGRES_BIN}/psql`, ["-X", "-At", "-c", "SELECT 1"], {
        env: { HOME: postgres.socketDir, PGHOST: "localhost", PGPORT: String(postgres.port), PGUSER: "app", PGDATABASE: "app", PGPASSWORD: appPassword, PGSSLMODE: "disable", PGCONNECT_TIMEOUT: "20" },
      });
      expect(plain.stderr).toMatch(/no pg_hba\.conf entry .*no encryption/);
    });
  });

  describe("PgBouncer", () => {
    const url = (host: string) => `postgres://app@${host}:${bouncer.port}/app?sslmode=verify-full`;

    it("accepts a client that verifies against the platform CA, and reaches PostgreSQL over TLS itself", async () => {
      // pg_stat_ssl is PostgreSQL's view of the server connection PgBouncer opened: TLS as well.
      const session = await kitQuery(url("localhost"), appPassword, platform.caPem);
      expect(session.ssl).toBe(true);
    });

    it("refuses a client without TLS", async () => {
      await expect(plainConnect("127.0.0.1", bouncer.port, "app", appPassword, "app")).rejects.toThrow(/SSL required/);
    });

    it("is refused by a client that trusts another CA", async () => {
      await expect(kitQuery(url("localhost"), appPassword, other.caPem)).rejects.toThrow(/self[- ]signed certificate|unable to (get local issuer|verify)/);
    });

    it("fails verification when the client dials a name the leaf does not carry", async () => {
      await expect(kitQuery(url("127.0.0.1"), appPassword, platform.caPem)).rejects.toThrow(/IP: 127\.0\.0\.1 is not in the cert's list|does not match/);
    });
  });

  describe("PgBouncer verifies PostgreSQL (server_tls_sslmode = verify-full)", () => {
    const bouncerFor = async (postgresHost: string, ca: TestCa): Promise<PgBouncerServer> => {
      const leaf = platform.leaf(`pgbouncer-${postgresHost}-${ca === platform ? "platform" : "other"}`, ["localhost"], { owner: testServer("pgbouncer").user });
      return startPgBouncer({
        ini: renderPgBouncerIni({
          postgresHost,
          postgresPort: postgres.port,
          databases: [{ name: "app" }],
          defaultPoolSize: 1,
          maxClientConnections: 5,
          authFile: "/unused/replaced-by-the-harness",
          tls: { ca: ca.caPath, cert: leaf.certPath, key: leaf.keyPath },
        }),
        userlist: renderPgBouncerUserlist([{ user: "app", scramVerifier: appVerifier }]),
        tls: "rendered",
      });
    };

    /**
     * The client logs in to PgBouncer (its own TLS and SCRAM) and then waits for a server session
     * PgBouncer cannot open: PgBouncer retries the server login every server_login_retry and holds
     * the client meanwhile. The refusal shows as the handshake error in PgBouncer's log while the
     * client has had no answer; once PgBouncer is gone the client's query fails. Killed, not
     * stopped: on SIGTERM PgBouncer would wait for the client it holds.
     */
    const expectNoServerSession = async (bouncer: PgBouncerServer, handshakeError: RegExp): Promise<void> => {
      let answered = false;
      const outcome = kitQuery(`postgres://app@localhost:${bouncer.port}/app`, appPassword, platform.caPem).then(
        () => ((answered = true), "answered"),
        () => "refused",
      );
      try {
        await waitFor(`PgBouncer's log to show ${handshakeError}`, async () => {
          if (answered) throw new WaitAbandoned("the client got a session through PgBouncer: it did not verify the server");
          return handshakeError.test(bouncer.output());
        });
        const now = await Promise.race([outcome, new Promise<string>((resolve) => setTimeout(() => resolve("waiting"), 300))]);
        expect(now).toBe("waiting");
      } finally {
        await bouncer.kill();
        await bouncer.destroy();
      }
      expect(await outcome).toBe("refused");
    };

    it("does not log in to a PostgreSQL whose certificate does not carry the name it dials", async () => {
      await expectNoServerSession(await bouncerFor("127.0.0.1", platform), /TLS handshake error: name `127\.0\.0\.1' not present in server certificate/);
    }, 120_000);

    it("does not log in to a PostgreSQL whose certificate another CA signed", async () => {
      await expectNoServerSession(await bouncerFor("localhost", other), /TLS handshake error: .*certificate verify failed/);
    }, 120_000);
  });

  describe("the key file as each target delivers it", () => {
    const startWithKey = async (owner: { uid: number; gid: number }, mode: number): Promise<PostgresServer> => {
      const leaf = platform.leaf(`postgres-key-${owner.uid}-${mode.toString(8)}`, ["localhost"]);
      chownSync(leaf.keyPath, owner.uid, owner.gid);
      chmodSync(leaf.keyPath, mode);
      return startPostgres({ conf: renderPostgresConf({ ...sizing, tls: { ca: platform.caPath, cert: leaf.certPath, key: leaf.keyPath } }), hba: renderPostgresHba(), tls: "rendered" });
    };

    it("Kubernetes: owned by root and group-readable through fsGroup (0440), the server starts and serves TLS", async () => {
      const gid = testServer("postgres").user.gid;
      const server = await startWithKey({ uid: 0, gid }, 0o440);
      try {
        const session = await kitQuery(`postgres://postgres@localhost:${server.port}/postgres`, server.superuserPassword, platform.caPem);
        expect(session.ssl).toBe(true);
      } finally {
        await server.destroy();
      }
    }, 180_000);

    it("a key the server's own user owns with group access is refused at start-up, which is why Docker's upload is 0400", async () => {
      const user = testServer("postgres").user;
      await expect(startWithKey({ uid: user.uid, gid: user.gid }, 0o440)).rejects.toThrow(/has group or world access/);
    }, 180_000);
  });
});
