// How the platform's MongoDB clients reach mongod, which requires TLS (mongod-conf.ts): every
// connection string carries tls=true and the platform CA's file, and dials a host name the
// server's leaf carries, so the driver verifies the chain and the name. Nothing here may relax
// verification (no tlsInsecure, no tlsAllowInvalid*): mongoClientUri refuses such options.

/**
 * The name the probes dial inside mongod's own container. The leaf carries it beside the names
 * other workloads dial (mongo-certificates.ts). The probe cannot dial the Service name: on
 * Kubernetes that routes only to ready pods, so a readiness probe through it could never pass.
 */
export const MONGO_PROBE_HOST = "localhost";

export interface MongoClientUriInput {
  host: string;
  port: number;
  /** The platform CA certificate inside the client's container. */
  caFile: string;
  /** Authentication database in the path (mongosh's default database); none by default. */
  database?: string;
  /** Further connection-string options, already URI-encoded (`authSource=%24external`). */
  options?: string[];
}

const PLAIN_PATH = /^\/[A-Za-z0-9_./-]+$/;
const RELAXING = /^(tlsInsecure|tlsAllowInvalidCertificates|tlsAllowInvalidHostnames|tlsDisableOCSPEndpointCheck|tlsDisableCertificateRevocationCheck|ssl|tls)=/i;

/**
 * `mongodb://host:port/[database]?directConnection=true&…&tls=true&tlsCAFile=<caFile>`.
 * directConnection: every client talks to the one member it names, never to a host it learns
 * from the replica set's config (a probe following it would leave its own container).
 */
export function mongoClientUri(input: MongoClientUriInput): string {
  if (!PLAIN_PATH.test(input.caFile)) throw new Error(`mongo client caFile: must be an absolute plain path (got ${JSON.stringify(input.caFile)})`);
  const options = input.options ?? [];
  const relaxing = options.filter((option) => RELAXING.test(option));
  if (relaxing.length > 0) throw new Error(`mongo client options: TLS is always on and verified; remove ${relaxing.join(", ")}`);
  return `mongodb://${input.host}:${input.port}/${input.database ?? ""}?${["directConnection=true", ...options, "tls=true", `tlsCAFile=${input.caFile}`].join("&")}`;
}

/**
 * mongosh's own TLS flags, as MongoDB's "Connect to a TLS-Enabled Replica Set" tutorial gives
 * them (`mongosh "<uri>" --tls --tlsCAFile <ca>`): for command lines that connect at start.
 */
export function mongoshTlsFlags(caFile: string): string[] {
  if (!PLAIN_PATH.test(caFile)) throw new Error(`mongosh caFile: must be an absolute plain path (got ${JSON.stringify(caFile)})`);
  return ["--tls", "--tlsCAFile", caFile];
}
