/*
 * Postgres, PgBouncer and PostgresBackup through Pulumi's mock engine, against a runtime that
 * records the Workloads it is handed (the components never talk to Docker or Kubernetes). The
 * files they hand over are then loaded by a real PostgreSQL and PgBouncer at the pinned versions, the backup
 * job's own script runs with the job's own environment and password file, and the connection
 * the PgBouncer component outputs is used to log in: what would be deployed is what is tested.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresBackup } from "../../components/database/backups/postgres-backup";
import { PgBouncer } from "../../components/database/postgres/pgbouncer";
import { DatabaseConnection, Postgres, PostgresArgs } from "../../components/database/postgres/postgres";
import { POSTGRES_EXPORTER_IMAGE, POSTGRES_IMAGE, PGBOUNCER_EXPORTER_IMAGE, PGBOUNCER_IMAGE } from "../../components/database/postgres/postgres-images";
import { PlatformPki } from "../../components/pki/platform-pki";
import { Runtime, WorkloadFile } from "../../components/runtime/workload";
import { PgBouncerServer, startPgBouncer } from "../../scripts/local-servers/pgbouncer-server";
import { POSTGRES_BIN, PostgresServer, startPostgres } from "../../scripts/local-servers/postgres-server";
import { chownTo, ownedTempDir, runAs, serviceUser } from "../../scripts/local-servers/server-process";
import { mockComponentEngine } from "./component-mocks";
import { RecordingRuntime, settled } from "./recording-runtime";

let generatedSecrets = new Set<string>();

beforeAll(async () => {
  ({ generatedSecrets } = await mockComponentEngine());
});



const file = (files: WorkloadFile[] | undefined, path: string): WorkloadFile => {
  const found = files?.find((f) => f.path === path);
  if (!found) throw new Error(`no file ${path}`);
  return found;
};

let pki: PlatformPki | undefined;
const platformPki = (): PlatformPki =>
  (pki ??= new PlatformPki("pki", { naming: { target: "docker" }, settings: { caValidityHours: 87_600, validityHours: 8_760, earlyRenewalHours: 720 } }));

const postgresArgs = (runtime: Runtime): PostgresArgs => ({
  runtime,
  pki: platformPki(),
  image: POSTGRES_IMAGE,
  exporterImage: POSTGRES_EXPORTER_IMAGE,
  resources: { cpu: 1, memoryMiB: 1024 },
  storageGiB: 10,
  maxConnections: 60,
  databases: [
    { service: "users", database: "users" },
    { service: "gpu-jobs", database: "gpu_jobs" },
  ],
});

describe("Postgres, PgBouncer and PostgresBackup components", () => {
  const runtime = new RecordingRuntime("docker");
  let postgres: Postgres;
  let pgbouncer: PgBouncer;
  let connections: Record<string, DatabaseConnection>;
  let server: PostgresServer;
  let bouncer: PgBouncerServer;

  beforeAll(async () => {
    postgres = new Postgres("postgres", postgresArgs(runtime));
    pgbouncer = new PgBouncer("pgbouncer", {
      runtime,
      image: PGBOUNCER_IMAGE,
      exporterImage: PGBOUNCER_EXPORTER_IMAGE,
      resources: { cpu: 0.5, memoryMiB: 128 },
      postgres,
      defaultPoolSize: 5,
      maxClientConnections: 100,
      pki: platformPki(),
    });
    new PostgresBackup("postgres-backup", { runtime, image: POSTGRES_IMAGE, postgres, schedule: "17 3 * * *", retention: 3, volumeSizeGiB: 5 });
    connections = Object.fromEntries(await Promise.all(Object.entries(pgbouncer.connections).map(async ([k, v]) => [k, await settled(v)] as const)));

    const pg = runtime.workload("postgres");
    // The harness swaps the delivered leaf's paths for its own leaf of localhost (the mock engine's
    // certificates are not real); every other setting is as delivered.
    server = await startPostgres({
      conf: await settled(file(pg.files, "/etc/postgresql/postgresql.conf").content),
      hba: await settled(file(pg.files, "/etc/postgresql/pg_hba.conf").content),
      initSql: [await settled(file(pg.files, "/docker-entrypoint-initdb.d/10-fundament.sql").content)],
      superuserPassword: await settled(postgres.superuserPassword),
    });
    const pb = runtime.workload("pgbouncer");
    const ini = await settled(file(pb.files, "/etc/pgbouncer/pgbouncer.ini").content);
    bouncer = await startPgBouncer({
      // The recorded host names the postgres workload; locally it is a loopback port.
      ini: ini.replace(/host=postgres port=5432/g, `host=${server.host} port=${server.port}`),
      userlist: await settled(file(pb.files, "/etc/pgbouncer/userlist.txt").content),
    });
  });
  afterAll(async () => {
    await bouncer?.destroy();
    await server?.destroy();
  });

  it("outputs one connection per service, through PgBouncer, as a Pulumi secret", async () => {
    expect(Object.keys(connections).sort()).toEqual(["gpu-jobs", "users"]);
    expect(connections["gpu-jobs"]).toMatchObject({ host: "pgbouncer", port: 6432, database: "gpu_jobs", user: "gpu_jobs" });
    for (const connection of Object.values(pgbouncer.connections)) expect(await pulumi.isSecret(connection)).toBe(true);
    expect(await pulumi.isSecret(postgres.superuserPassword)).toBe(true);
  });

  it("lets each service log in through PgBouncer with its output credentials, to its own database only", async () => {
    const users = connections.users;
    const client = new Client({ ...users, host: bouncer.host, port: bouncer.port, ssl: { ca: bouncer.caPem } });
    await client.connect();
    try {
      expect((await client.query("SELECT current_user AS who, current_database() AS db")).rows).toEqual([{ who: "users", db: "users" }]);
    } finally {
      await client.end();
    }
    const direct = new Client({ ...users, host: server.host, port: server.port, database: "gpu_jobs", ssl: { ca: server.caPem } });
    await expect(direct.connect()).rejects.toThrow(/permission denied for database "gpu_jobs"/);
  });

  it("delivers every password as a secret file, never in an environment value or a non-secret file", async () => {
    const everything = [...runtime.deployed, ...runtime.scheduled];
    expect(everything.map((w) => w.name).sort()).toEqual(["pgbouncer", "pgbouncer-exporter", "postgres", "postgres-backup", "postgres-exporter"]);
    for (const workload of everything) {
      for (const [key, value] of Object.entries(workload.env ?? {})) {
        const plain = await settled(value);
        for (const secret of generatedSecrets) expect(plain, `${workload.name} env ${key}`).not.toContain(secret);
      }
      for (const f of workload.files ?? []) {
        const content = await settled(f.content);
        const holdsSecret = [...generatedSecrets].some((secret) => content.includes(secret)) || content.includes("SCRAM-SHA-256$");
        if (holdsSecret) expect(f.secret, `${workload.name} ${f.path}`).toBe(true);
      }
    }
    expect(runtime.workload("postgres").env?.POSTGRES_PASSWORD_FILE).toBe("/run/secrets/postgres-superuser-password");
    expect(runtime.workload("postgres-exporter").env?.DATA_SOURCE_PASS_FILE).toBe("/run/secrets/postgres-monitor-password");
  });

  it("puts data in backend only and exporters in backend + monitoring, with shm and pg_isready health", () => {
    const pg = runtime.workload("postgres");
    expect(pg.zones).toEqual(["backend"]);
    expect(runtime.workload("pgbouncer").zones).toEqual(["backend"]);
    expect(runtime.workload("postgres-exporter").zones).toEqual(["backend", "monitoring"]);
    expect(runtime.workload("pgbouncer-exporter").zones).toEqual(["backend", "monitoring"]);
    expect(pg.shmSizeMiB).toBeGreaterThanOrEqual(256);
    expect(pg.health.readiness).toMatchObject({ kind: "exec", command: expect.arrayContaining(["pg_isready"]) });
  });

  it("schedules a backup job whose own script, environment and password file back up every service database", async () => {
    const [job] = runtime.scheduled;
    expect(job.schedule).toBe("17 3 * * *");
    const user = serviceUser("postgres");
    const work = ownedTempDir("pg-backup-job", user);
    try {
      const script = await settled(file(job.files, "/etc/fundament/postgres-backup.sh").content);
      const pgpass = file(job.files, "/run/secrets/postgres-backup.pgpass");
      const scriptPath = join(work.path, "backup.sh");
      const pgpassPath = join(work.path, "pgpass");
      const backups = join(work.path, "backups");
      writeFileSync(scriptPath, script.replace("backup_dir='/var/lib/postgresql/backups'", `backup_dir='${backups}'`));
      writeFileSync(pgpassPath, await settled(pgpass.content), { mode: pgpass.mode });
      chownTo(pgpassPath, user);
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(job.env ?? {})) env[key] = await settled(value);
      const result = runAs(user, "sh", [scriptPath], {
        // The job's own PGSSLMODE (verify-full); the CA is the harness's, whose leaf the local server has.
        env: { ...env, PATH: `${POSTGRES_BIN}:${process.env.PATH}`, PGHOST: server.host, PGPORT: String(server.port), PGPASSFILE: pgpassPath, PGSSLROOTCERT: server.caPath, HOME: work.path },
      });
      expect(result.stderr).toContain("recorded success");
      expect(result.status).toBe(0);
      const [stamp] = readdirSync(backups);
      expect(readdirSync(join(backups, stamp)).sort()).toEqual(["databases.txt", "globals.sql", "gpu_jobs.dump", "users.dump"]);
    } finally {
      work.remove();
    }
  });

  it("delivers the platform leaf to PostgreSQL and PgBouncer where their rendered settings point, with the keys as secret 0400 files", async () => {
    const settingOf = (text: string, key: string): string | undefined => text.match(new RegExp(`^${key} = '?([^'\\n]*)'?$`, "m"))?.[1];
    const ca = await settled(platformPki().caCertPem);
    const pg = runtime.workload("postgres");
    const conf = await settled(file(pg.files, "/etc/postgresql/postgresql.conf").content);
    expect(settingOf(conf, "ssl")).toBe("on");
    expect(await settled(file(pg.files, settingOf(conf, "ssl_ca_file")!).content)).toBe(ca);
    expect(await settled(file(pg.files, settingOf(conf, "ssl_cert_file")!).content)).toMatch(/BEGIN CERTIFICATE/);
    expect(file(pg.files, settingOf(conf, "ssl_key_file")!)).toMatchObject({ secret: true, mode: 0o400 });
    expect(await pulumi.isSecret(pulumi.output(file(pg.files, settingOf(conf, "ssl_key_file")!).content))).toBe(true);
    expect(postgres.dnsNames).toEqual(["postgres"]);

    const pb = runtime.workload("pgbouncer");
    const ini = await settled(file(pb.files, "/etc/pgbouncer/pgbouncer.ini").content);
    expect(settingOf(ini, "client_tls_sslmode")).toBe("require");
    expect(settingOf(ini, "server_tls_sslmode")).toBe("verify-full");
    expect(await settled(file(pb.files, settingOf(ini, "server_tls_ca_file")!).content)).toBe(ca);
    expect(file(pb.files, settingOf(ini, "client_tls_key_file")!)).toMatchObject({ secret: true, mode: 0o400 });
    // PgBouncer dials PostgreSQL by a name PostgreSQL's leaf carries, so verify-full can succeed.
    expect(ini).toMatch(new RegExp(`host=${postgres.dnsNames[0]} port=5432`));
  });

  it("has every client verify the server against the platform CA it is given (verify-full)", async () => {
    const ca = await settled(platformPki().caCertPem);
    const pgExporter = runtime.workload("postgres-exporter");
    const source = new URL(`postgres://${await settled(pgExporter.env!.DATA_SOURCE_URI)}`);
    expect(source.hostname).toBe("postgres");
    expect(source.searchParams.get("sslmode")).toBe("verify-full");
    expect(await settled(file(pgExporter.files, source.searchParams.get("sslrootcert")!).content)).toBe(ca);

    const bouncerExporter = runtime.workload("pgbouncer-exporter");
    const flag = bouncerExporter.args!.find((a) => a.startsWith("--pgBouncer.connectionString="))!;
    const bouncerSource = new URL(flag.slice(flag.indexOf("=") + 1));
    expect(bouncerSource.hostname).toBe("pgbouncer");
    expect(bouncerSource.searchParams.get("sslmode")).toBe("verify-full");
    expect(await settled(file(bouncerExporter.files, bouncerSource.searchParams.get("sslrootcert")!).content)).toBe(ca);

    const [job] = runtime.scheduled;
    expect(await settled(job.env!.PGSSLMODE)).toBe("verify-full");
    expect(await settled(file(job.files, await settled(job.env!.PGSSLROOTCERT)).content)).toBe(ca);
  });

  it("refuses bad arguments before creating anything, naming every problem", () => {
    const before = runtime.deployed.length;
    expect(
      () =>
        new Postgres("bad", {
          ...postgresArgs(runtime),
          image: "postgres",
          resources: { cpu: 1, memoryMiB: 64 },
          databases: [{ service: "Users", database: "users" }],
        }),
    ).toThrow(
      [
        'bad.image: must be pinned to a tag or digest (got "postgres")',
        "bad.resources.memoryMiB: must be an integer of at least 256 (got 64)",
        'bad.databases[0].service: must be lower-case letters, digits and hyphens, starting with a letter, at most 63 characters (got "Users")',
      ].join("\n"),
    );
    expect(() => new PostgresBackup("bad-backup", { runtime, image: POSTGRES_IMAGE, postgres, schedule: "daily", retention: 0, volumeSizeGiB: 5 })).toThrow(
      /bad-backup\.retention: must be an integer from 1 to 1000 \(got 0\)\nbad-backup\.schedule: must be a cron expression with 5 fields/,
    );
    expect(
      () =>
        new PgBouncer("bad-bouncer", {
          runtime,
          image: PGBOUNCER_IMAGE,
          exporterImage: PGBOUNCER_EXPORTER_IMAGE,
          resources: { cpu: 0.5, memoryMiB: 128 },
          postgres,
          defaultPoolSize: 40,
          maxClientConnections: 100,
          pki: platformPki(),
        }),
    ).toThrow(/bad-bouncer\.defaultPoolSize: 40 per database x 2 databases = 80 server connections, more than PostgreSQL's maxConnections \(60\)/);
    expect(runtime.deployed.length).toBe(before);
  });
});
