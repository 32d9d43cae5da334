import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { imageReferenceProblem } from "../../config/image-reference";
import { caFile, tlsFilePaths } from "../../pki/tls-files";
import type { DeployedWorkload, Endpoint, Runtime, WorkloadResources } from "../../runtime/workload";
import { PGBOUNCER_PORT, PGBOUNCER_STATS_USER, pgBouncerSizingProblems, renderPgBouncerIni, renderPgBouncerUserlist } from "./pgbouncer-ini";
import { exporterSidecar } from "./exporter-sidecar";
import { PGBOUNCER_IMAGE_USER } from "./postgres-images";
import { PGPASS_MODE, renderPgpass } from "./postgres-pgpass";
import { DatabaseConnection, loginConnections, Postgres, POSTGRES_PORT, PostgresPki, VERIFY_FULL } from "./postgres";
import { scramSha256Verifier } from "./postgres-scram";

export interface PgBouncerArgs {
  runtime: Runtime;
  image: string;
  resources: WorkloadResources;
  postgres: Postgres;
  /** Server connections per database; the pool never grows past it. */
  defaultPoolSize: number;
  maxClientConnections: number;
  exporterImage: string;
  /** Issues PgBouncer's leaf; the same CA verifies PostgreSQL. */
  pki: Pick<PostgresPki, "serverLeaf">;
}

export const PGBOUNCER_EXPORTER_PORT = 9127;
/**
 * Server connections kept outside PgBouncer's pools: superuser_reserved_connections (3), the
 * exporter, the backup job (pg_dump holds one per database it dumps, one at a time) and an
 * operator's session or restore.
 */
export const POSTGRES_RESERVED_CONNECTIONS = 10;
const CONFIG_DIR = "/etc/pgbouncer";
/** PgBouncer's leaf and the platform CA; PgBouncer reads its key through OpenSSL, which checks no mode. */
export const PGBOUNCER_TLS = tlsFilePaths(`${CONFIG_DIR}/tls`);
const EXPORTER_CA_FILE = "/run/secrets/pgbouncer-exporter-ca.crt";
/** Any answer from PgBouncer, even "no such database", means it accepts connections. */
const PGBOUNCER_IS_READY = ["pg_isready", "-q", "-h", "127.0.0.1", "-p", String(PGBOUNCER_PORT), "-d", "pgbouncer"];

export class PgBouncer extends pulumi.ComponentResource {
  readonly workload: DeployedWorkload;
  readonly exporter: DeployedWorkload;
  readonly endpoint: pulumi.Output<Endpoint>;
  /** Keyed by service; each output is secret as a whole because it carries the password. */
  readonly connections: Record<string, pulumi.Output<DatabaseConnection>>;

  constructor(name: string, args: PgBouncerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:database:PgBouncer", name, {}, opts);
    const postgres = args.postgres;
    const problems = [...pgBouncerSizingProblems(args)];
    for (const [field, image] of Object.entries({ image: args.image, exporterImage: args.exporterImage })) {
      const problem = imageReferenceProblem(image);
      if (problem) problems.push(`${field}: ${problem} (got ${JSON.stringify(image)})`);
    }
    const poolConnections = args.defaultPoolSize * postgres.databases.length;
    if (problems.length === 0 && poolConnections > postgres.maxConnections - POSTGRES_RESERVED_CONNECTIONS) {
      problems.push(
        `defaultPoolSize: ${args.defaultPoolSize} per database x ${postgres.databases.length} databases = ${poolConnections} server connections, ` +
          `more than PostgreSQL's maxConnections (${postgres.maxConnections}) less ${POSTGRES_RESERVED_CONNECTIONS} reserved; lower it or raise maxConnections`,
      );
    }
    if (problems.length > 0) throw new Error(problems.map((p) => `${name}.${p}`).join("\n"));

    const statsPassword = new random.RandomPassword(`${name}-stats-password`, { length: 40, special: false }, { parent: this });
    const statsSalt = new random.RandomId(`${name}-stats-salt`, { byteLength: 16 }, { parent: this });
    const statsVerifier = pulumi.all([statsPassword.result, statsSalt.b64Std]).apply(([pw, s]) => scramSha256Verifier(pw, s));
    const logins = Object.values(postgres.logins);
    const userlist = pulumi
      .all([pulumi.all(logins.map((l) => l.scramVerifier)), statsVerifier])
      .apply(([verifiers, stats]) =>
        renderPgBouncerUserlist([...logins.map((l, i) => ({ user: l.user, scramVerifier: verifiers[i] })), { user: PGBOUNCER_STATS_USER, scramVerifier: stats }]),
      );
    const leaf = args.pki.serverLeaf(name);
    const ini = postgres.workload.host.apply((postgresHost) =>
      renderPgBouncerIni({
        postgresHost,
        postgresPort: POSTGRES_PORT,
        databases: postgres.databases.map((d) => ({ name: d.database })),
        defaultPoolSize: args.defaultPoolSize,
        maxClientConnections: args.maxClientConnections,
        authFile: `${CONFIG_DIR}/userlist.txt`,
        tls: PGBOUNCER_TLS,
      }),
    );

    this.workload = args.runtime.deploy(
      {
        name,
        image: args.image,
        zones: ["backend"],
        ports: [{ name: "pgbouncer", port: PGBOUNCER_PORT }],
        // The image's entrypoint leaves an existing /etc/pgbouncer/pgbouncer.ini untouched.
        files: [
          { path: `${CONFIG_DIR}/pgbouncer.ini`, content: ini },
          { path: `${CONFIG_DIR}/userlist.txt`, content: pulumi.secret(userlist), secret: true },
          ...leaf.files(PGBOUNCER_TLS),
        ],
        // The image is Alpine without bash, so no /dev/tcp check: pg_isready (postgresql-client,
        // shipped by the image) counts any answer from PgBouncer, even a refusal, as up.
        health: {
          readiness: { kind: "exec", command: PGBOUNCER_IS_READY, periodSeconds: 10 },
          liveness: { kind: "exec", command: PGBOUNCER_IS_READY, periodSeconds: 20, failureThreshold: 3 },
        },
        resources: args.resources,
        // SIGINT: PgBouncer's safe shutdown, finishing in-flight transactions before exiting.
        stopSignal: "SIGINT",
        stopGracePeriodSeconds: 30,
        user: PGBOUNCER_IMAGE_USER,
        readOnlyRootFilesystem: true,
        dependsOn: [postgres.workload],
      },
      { parent: this },
    );
    this.endpoint = this.workload.endpoint("pgbouncer");

    const statsPassFile = "/run/secrets/pgbouncer-stats.pgpass";
    this.exporter = args.runtime.deploy(
      {
        name: `${name}-exporter`,
        image: args.exporterImage,
        // The connection string carries no password: lib/pq reads it from PGPASSFILE. The host
        // is the PgBouncer workload's name, which both runtimes make resolvable and PgBouncer's
        // leaf carries, so lib/pq verifies it (verify-full) against the platform CA.
        args: [
          `--pgBouncer.connectionString=postgres://${PGBOUNCER_STATS_USER}@${this.workload.name}:${PGBOUNCER_PORT}/pgbouncer?sslmode=${VERIFY_FULL}&sslrootcert=${EXPORTER_CA_FILE}`,
        ],
        ...exporterSidecar(PGBOUNCER_EXPORTER_PORT, 32, this.workload),
        env: { PGPASSFILE: statsPassFile },
        files: [
          {
            path: statsPassFile,
            content: pulumi.secret(statsPassword.result.apply((password) => renderPgpass([{ user: PGBOUNCER_STATS_USER, password }]))),
            secret: true,
            mode: PGPASS_MODE,
          },
          // Beside the password file: the image is read-only, and each directory of files is a volume.
          caFile(EXPORTER_CA_FILE, postgres.caCertPem),
        ],
      },
      { parent: this },
    );

    this.connections = loginConnections(this.endpoint, postgres.logins);
    this.registerOutputs({ endpoint: this.endpoint, connections: this.connections });
  }
}
