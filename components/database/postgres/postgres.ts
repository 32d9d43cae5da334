import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { imageReferenceProblem } from "../../config/image-reference";
import type { PlatformPki } from "../../pki/platform-pki";
import { caFile, TlsFilePaths, tlsFilePaths } from "../../pki/tls-files";
import type { DeployedWorkload, Endpoint, Probe, Runtime, Workload, WorkloadResources } from "../../runtime/workload";
import { postgresShmSizeMiB, postgresSizingProblems, postgresTuning, renderPostgresConf } from "./postgres-conf";
import { BACKUP_ROLE, MONITOR_ROLE, ServiceDatabase, serviceDatabaseProblems, serviceRoleName } from "./postgres-databases";
import { renderPostgresExporterQueries } from "./postgres-exporter-queries";
import { renderPostgresHba } from "./postgres-hba";
import { exporterSidecar } from "./exporter-sidecar";
import { POSTGRES_IMAGE_USER } from "./postgres-images";
import { renderPostgresInitSql } from "./postgres-init-sql";
import { renderPgpass } from "./postgres-pgpass";
import { scramSha256Verifier } from "./postgres-scram";

export type { ServiceDatabase } from "./postgres-databases";

/** How a service reaches its database (through PgBouncer, or directly for a session); `password` is a Pulumi secret in outputs. */
export interface DatabaseConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

export interface PostgresArgs {
  runtime: Runtime;
  /** Official image, pinned; see postgres-images.ts for the major. */
  image: string;
  resources: WorkloadResources;
  storageGiB: number;
  databases: ServiceDatabase[];
  exporterImage: string;
  /** Server connections; PgBouncer's pools and the platform's own roles must fit in it. Default 100. */
  maxConnections?: number;
  /** Statements slower than this are logged. Default 250 ms. */
  slowStatementMs?: number;
  /** Issues the server's leaf; every client verifies it against the platform CA. */
  pki: PostgresPki;
}

/** What the PostgreSQL layer needs of the platform PKI (components/pki). */
export type PostgresPki = Pick<PlatformPki, "serverLeaf" | "caCertPem">;

/**
 * How a libpq client (lib/pq, pgx, psql, pg_dump) must connect: TLS, the server's certificate
 * verified against the platform CA and its host name against the leaf's names.
 */
export const VERIFY_FULL = "verify-full";

/** A login role: its password is generated and secret; the verifier is what servers store. */
export interface PostgresLogin {
  user: string;
  password: pulumi.Output<string>;
  scramVerifier: pulumi.Output<string>;
}

export interface ServiceLogin extends PostgresLogin {
  service: string;
  database: string;
}

export const POSTGRES_PORT = 5432;
export const POSTGRES_EXPORTER_PORT = 9187;
export const DEFAULT_MAX_CONNECTIONS = 100;
const CONFIG_DIR = "/etc/postgresql";
const SECRETS_DIR = "/run/secrets";
const DATA_MOUNT = "/var/lib/postgresql/data";
/**
 * The leaf's files, as the server reads them. Docker uploads the key owned by the postgres user
 * (the workload's user) with mode 0400; Kubernetes mounts it from a Secret owned by root and, by
 * fsGroup, group-readable (0440). PostgreSQL accepts both: a key owned by the database user
 * with no group or other bits, or owned by root with at most group read (tests/config/postgres-tls.test.ts).
 */
export const POSTGRES_TLS: TlsFilePaths = tlsFilePaths(`${CONFIG_DIR}/tls`);
const EXPORTER_CA_FILE = "/etc/postgres-exporter/ca.crt";

export class Postgres extends pulumi.ComponentResource {
  readonly workload: DeployedWorkload;
  readonly exporter: DeployedWorkload;
  readonly endpoint: pulumi.Output<Endpoint>;
  readonly superuserPassword: pulumi.Output<string>;
  /** Keyed by service. */
  readonly logins: Record<string, ServiceLogin>;
  /**
   * Keyed by service: the server itself, for what needs a session of its own (LISTEN); every
   * other query goes through PgBouncer. Secret as a whole because it carries the password.
   */
  readonly sessionConnections: Record<string, pulumi.Output<DatabaseConnection>>;
  readonly backupLogin: PostgresLogin;
  readonly maxConnections: number;
  readonly databases: ServiceDatabase[];
  /** What every client verifies the server against. */
  readonly caCertPem: pulumi.Output<string>;
  /** The names the server's leaf carries: a client dials one of them. */
  readonly dnsNames: readonly string[];

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:database:Postgres", name, {}, opts);
    const maxConnections = args.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const confInput = { resources: args.resources, maxConnections, storageGiB: args.storageGiB, slowStatementMs: args.slowStatementMs, tls: POSTGRES_TLS };
    const problems = [
      ...imageProblems({ image: args.image, exporterImage: args.exporterImage }),
      ...postgresSizingProblems(confInput),
      ...serviceDatabaseProblems(args.databases),
    ];
    if (problems.length > 0) throw new Error(problems.map((p) => `${name}.${p}`).join("\n"));
    this.maxConnections = maxConnections;
    this.databases = args.databases.map((d) => ({ ...d }));

    const superuser = new random.RandomPassword(`${name}-superuser`, { length: 40, special: false }, { parent: this });
    this.superuserPassword = pulumi.secret(superuser.result);
    const login = (user: string): PostgresLogin => {
      const password = new random.RandomPassword(`${name}-${user}-password`, { length: 40, special: false }, { parent: this });
      // A stored salt keeps the verifier, and so the init SQL and PgBouncer's userlist, stable across updates.
      const salt = new random.RandomId(`${name}-${user}-salt`, { byteLength: 16 }, { parent: this });
      const scramVerifier = pulumi.secret(pulumi.all([password.result, salt.b64Std]).apply(([pw, s]) => scramSha256Verifier(pw, s)));
      return { user, password: pulumi.secret(password.result), scramVerifier };
    };
    this.logins = Object.fromEntries(
      args.databases.map((d) => [d.service, { ...login(serviceRoleName(d.service)), service: d.service, database: d.database }]),
    );
    const monitorLogin = login(MONITOR_ROLE);
    this.backupLogin = login(BACKUP_ROLE);

    const initSql = pulumi
      .all([
        pulumi.all(Object.values(this.logins).map((l) => l.scramVerifier)),
        monitorLogin.scramVerifier,
        this.backupLogin.scramVerifier,
      ])
      .apply(([serviceVerifiers, monitorVerifier, backupVerifier]) =>
        renderPostgresInitSql({
          services: Object.values(this.logins).map((l, i) => ({ role: l.user, database: l.database, scramVerifier: serviceVerifiers[i] })),
          monitorVerifier,
          backupVerifier,
        }),
      );
    const tuning = postgresTuning(confInput);
    this.caCertPem = args.pki.caCertPem;
    const leaf = args.pki.serverLeaf(name);
    this.dnsNames = leaf.dnsNames;
    // pg_isready over TCP: the entrypoint's init-time server listens on the socket only, so
    // the probes pass only once the real server accepts network connections.
    const isReady: Probe = { kind: "exec", command: ["pg_isready", "-q", "-h", "127.0.0.1", "-p", String(POSTGRES_PORT), "-U", "postgres", "-d", "postgres"] };
    const server: Workload = {
      name,
      image: args.image,
      args: ["postgres", "-c", `config_file=${CONFIG_DIR}/postgresql.conf`, "-c", `hba_file=${CONFIG_DIR}/pg_hba.conf`],
      zones: ["backend"],
      ports: [{ name: "postgres", port: POSTGRES_PORT }],
      env: {
        POSTGRES_USER: "postgres",
        POSTGRES_PASSWORD_FILE: `${SECRETS_DIR}/postgres-superuser-password`,
        // A subdirectory: a fresh volume's root may hold lost+found, which initdb refuses.
        PGDATA: `${DATA_MOUNT}/pgdata`,
        POSTGRES_INITDB_ARGS: "--data-checksums --encoding=UTF8 --locale=C.UTF-8",
      },
      files: [
        { path: `${CONFIG_DIR}/postgresql.conf`, content: renderPostgresConf(confInput) },
        { path: `${CONFIG_DIR}/pg_hba.conf`, content: renderPostgresHba() },
        // Holds SCRAM verifiers, not passwords; secret all the same, a verifier invites offline guessing.
        { path: "/docker-entrypoint-initdb.d/10-fundament.sql", content: initSql, secret: true },
        { path: `${SECRETS_DIR}/postgres-superuser-password`, content: this.superuserPassword, secret: true },
        ...leaf.files(POSTGRES_TLS),
      ],
      health: {
        startup: { ...isReady, periodSeconds: 5, failureThreshold: 120 },
        readiness: { ...isReady, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
        liveness: { ...isReady, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 6 },
      },
      resources: args.resources,
      storage: [{ name: "data", path: DATA_MOUNT, sizeGiB: args.storageGiB }],
      // SIGINT is PostgreSQL's fast shutdown: transactions roll back, a checkpoint is written.
      stopSignal: "SIGINT",
      stopGracePeriodSeconds: 90,
      user: POSTGRES_IMAGE_USER,
      startsAsRoot: true,
      capabilities: ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"],
      shmSizeMiB: postgresShmSizeMiB(tuning),
    };
    this.workload = args.runtime.deploy(server, { parent: this });
    this.endpoint = this.workload.endpoint("postgres");

    const exporterPasswordFile = `${SECRETS_DIR}/postgres-monitor-password`;
    this.exporter = args.runtime.deploy(
      {
        name: `${name}-exporter`,
        image: args.exporterImage,
        ...exporterSidecar(POSTGRES_EXPORTER_PORT, 64, this.workload),
        env: {
          // lib/pq: TLS with the server's certificate and host name verified against the platform CA.
          DATA_SOURCE_URI: pulumi.interpolate`${this.workload.host}:${POSTGRES_PORT}/postgres?sslmode=${VERIFY_FULL}&sslrootcert=${EXPORTER_CA_FILE}`,
          DATA_SOURCE_USER: MONITOR_ROLE,
          DATA_SOURCE_PASS_FILE: exporterPasswordFile,
          PG_EXPORTER_EXTEND_QUERY_PATH: "/etc/postgres-exporter/queries.yaml",
        },
        files: [
          { path: "/etc/postgres-exporter/queries.yaml", content: renderPostgresExporterQueries() },
          { path: exporterPasswordFile, content: monitorLogin.password, secret: true },
          caFile(EXPORTER_CA_FILE, this.caCertPem),
        ],
      },
      { parent: this },
    );

    this.sessionConnections = loginConnections(this.endpoint, this.logins);

    this.registerOutputs({ endpoint: this.endpoint, superuserPassword: this.superuserPassword, sessionConnections: this.sessionConnections });
  }
}

/** Each service's login at `endpoint` (PostgreSQL itself, or PgBouncer in front of it), as a secret. */
export function loginConnections(endpoint: pulumi.Output<Endpoint>, logins: Record<string, ServiceLogin>): Record<string, pulumi.Output<DatabaseConnection>> {
  return Object.fromEntries(
    Object.values(logins).map((login) => [
      login.service,
      pulumi.secret(
        pulumi.all([endpoint, login.password]).apply(([at, password]): DatabaseConnection => ({
          host: at.host,
          port: at.port,
          database: login.database,
          user: login.user,
          password,
        })),
      ),
    ]),
  );
}

/** libpq password file for `login`, as the backup job and operators use it. */
export function pgpassFor(login: PostgresLogin): pulumi.Output<string> {
  return pulumi.secret(login.password.apply((password) => renderPgpass([{ user: login.user, password }])));
}

function imageProblems(images: Record<string, string>): string[] {
  return Object.entries(images).flatMap(([field, image]) => {
    const problem = imageReferenceProblem(image);
    return problem ? [`${field}: ${problem} (got ${JSON.stringify(image)})`] : [];
  });
}
