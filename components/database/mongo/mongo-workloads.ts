// The MongoDB layer's Workloads: mongod, the one-shot init Job, and the exporter.
import * as pulumi from "@pulumi/pulumi";
import { DeployedWorkload, Job, Workload, WorkloadResources } from "../../runtime/workload";
import { MONGO_PORT } from "./mongod-conf";
import { MONGO_PROBE_HOST, mongoClientUri, mongoshTlsFlags } from "./mongo-client-tls";

export const MONGOD_CONF_PATH = "/etc/mongo/mongod.conf";
export const MONGO_DATA_DIR = "/data/db";
export const MONGO_KEYFILE_PATH = "/run/secrets/mongo/keyfile";
/**
 * Where mongod reads the keyFile: a private copy. On Kubernetes a Secret volume with fsGroup
 * makes the mounted file group-readable (0440), which mongod refuses as "too open"; copying it
 * to the pod's own /tmp with 0400 works the same on both targets.
 */
export const MONGO_KEYFILE_COPY_PATH = "/tmp/mongo-keyfile";
export const MONGO_SERVER_PEM_PATH = "/run/secrets/mongo/server.pem";
export const MONGO_CA_PATH = "/etc/mongo/tls/ca.pem";
export const MONGO_ROOT_PASSWORD_PATH = "/run/secrets/mongo/root-password";
export const MONGO_ROOT_USER = "root";
export const MONGO_INIT_SCRIPT_PATH = "/etc/fundament/mongo-init.js";
export const MONGO_EXPORTER_PEM_PATH = "/run/secrets/mongo-exporter/client.pem";
export const MONGO_EXPORTER_CA_PATH = "/etc/mongo-exporter/ca.pem";
export const MONGO_EXPORTER_PORT = 9216;

/** The mongodb user of the official image. */
export const MONGO_IMAGE_USER = { uid: 999, gid: 999 };
/** The user percona/mongodb_exporter's scratch image declares. */
export const MONGO_EXPORTER_IMAGE_USER = { uid: 65535, gid: 65535 };

export function mongoServicePasswordPath(service: string): string {
  return `/run/secrets/mongo/${service}-password`;
}

/**
 * ping needs no authentication, so the healthcheck carries no credential at all. mongod refuses
 * plain text, so the probe speaks TLS and verifies the server against the CA mounted beside it,
 * under the name it dials (MONGO_PROBE_HOST, on the leaf). The official image's mongosh is
 * installed from mongodb-mongosh (policies/model/image-programs.ts).
 */
export function mongoHealthCommand(caFile: string = MONGO_CA_PATH, port: number = MONGO_PORT): string[] {
  return [
    "mongosh",
    `mongodb://${MONGO_PROBE_HOST}:${port}/?directConnection=true&serverSelectionTimeoutMS=5000`,
    ...mongoshTlsFlags(caFile),
    "--quiet",
    "--norc",
    "--eval",
    "quit(db.adminCommand({ ping: 1 }).ok === 1 ? 0 : 1)",
  ];
}

// mongosh keeps logs under $HOME/.mongodb; the mongodb user's home is the data directory.
const MONGOSH_ENV = { HOME: "/tmp" };

export interface MongoServerWorkloadInput {
  name: string;
  image: string;
  resources: WorkloadResources;
  storageGiB: number;
  mongodConf: string;
  keyFile: pulumi.Input<string>;
  rootPassword: pulumi.Input<string>;
  caCertPem: pulumi.Input<string>;
  serverPem: pulumi.Input<string>;
}

export function mongoServerWorkload(input: MongoServerWorkloadInput): Workload {
  return {
    name: input.name,
    role: "data",
    image: input.image,
    // The image's entrypoint stays: on an empty data directory it creates the root user from
    // MONGO_INITDB_ROOT_* on a temporary mongod bound to 127.0.0.1, started from this config minus
    // net, security, replication and systemLog, with --tlsMode disabled (no --tlsCertificateKeyFile
    // among these args), and its own plain mongosh; then it execs this with TLS required. TLS
    // settings must therefore stay in the config's net section, never in these args.
    args: ["sh", "-c", `install -m 0400 ${MONGO_KEYFILE_PATH} ${MONGO_KEYFILE_COPY_PATH} && exec docker-entrypoint.sh mongod --config ${MONGOD_CONF_PATH}`],
    zones: ["backend"],
    ports: [{ name: "mongo", port: MONGO_PORT }],
    env: {
      ...MONGOSH_ENV,
      MONGO_INITDB_ROOT_USERNAME: MONGO_ROOT_USER,
      MONGO_INITDB_ROOT_PASSWORD_FILE: MONGO_ROOT_PASSWORD_PATH,
    },
    files: [
      { path: MONGOD_CONF_PATH, content: input.mongodConf, mode: 0o444 },
      // Copied to MONGO_KEYFILE_COPY_PATH at start: mongod refuses a keyFile that group or others can read.
      { path: MONGO_KEYFILE_PATH, content: input.keyFile, secret: true, mode: 0o400 },
      { path: MONGO_SERVER_PEM_PATH, content: input.serverPem, secret: true, mode: 0o400 },
      { path: MONGO_CA_PATH, content: input.caCertPem, mode: 0o444 },
      { path: MONGO_ROOT_PASSWORD_PATH, content: input.rootPassword, secret: true, mode: 0o400 },
    ],
    health: {
      // First start runs the entrypoint's init phase, and a restart may replay a long journal.
      startup: { kind: "exec", command: mongoHealthCommand(), periodSeconds: 5, failureThreshold: 60, timeoutSeconds: 10 },
      readiness: { kind: "exec", command: mongoHealthCommand(), periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 10 },
      liveness: { kind: "exec", command: mongoHealthCommand(), periodSeconds: 20, failureThreshold: 6, timeoutSeconds: 10 },
    },
    resources: input.resources,
    storage: [{ name: "data", path: MONGO_DATA_DIR, sizeGiB: input.storageGiB }],
    // SIGTERM is a clean shutdown (checkpoint, close files); give WiredTiger the time.
    stopGracePeriodSeconds: 60,
    stopSignal: "SIGTERM",
    user: MONGO_IMAGE_USER,
    readOnlyRootFilesystem: true,
  };
}

export interface MongoInitJobInput {
  name: string;
  image: string;
  script: pulumi.Input<string>;
  rootPassword: pulumi.Input<string>;
  servicePasswords: { service: string; password: pulumi.Input<string> }[];
  /** The platform CA: the script's connection string verifies mongod against it (MONGO_CA_PATH). */
  caCertPem: pulumi.Input<string>;
  mongo: DeployedWorkload;
}

/** Runs on every change of its script or files; the script itself is safe to repeat. */
export function mongoInitJob(input: MongoInitJobInput): Job {
  return {
    name: input.name,
    image: input.image,
    command: ["mongosh", "--nodb", "--quiet", "--norc", "--file", MONGO_INIT_SCRIPT_PATH],
    zones: ["backend"],
    env: MONGOSH_ENV,
    files: [
      { path: MONGO_INIT_SCRIPT_PATH, content: input.script, mode: 0o444 },
      { path: MONGO_CA_PATH, content: input.caCertPem, mode: 0o444 },
      { path: MONGO_ROOT_PASSWORD_PATH, content: input.rootPassword, secret: true, mode: 0o400 },
      ...input.servicePasswords.map(({ service, password }) => ({
        path: mongoServicePasswordPath(service),
        content: password,
        secret: true,
        mode: 0o400,
      })),
    ],
    resources: { cpu: 0.25, memoryMiB: 256 },
    stopGracePeriodSeconds: 10,
    user: MONGO_IMAGE_USER,
    readOnlyRootFilesystem: true,
    backoffLimit: 3,
    dependsOn: [input.mongo],
  };
}

/**
 * No password anywhere: X.509 over TLS, the key in a secret file. The server's certificate names
 * the host the exporter dials, so the host name is verified as well as the chain.
 */
export function mongoExporterUri(host: string, port: number = MONGO_PORT): string {
  return mongoClientUri({
    host,
    port,
    caFile: MONGO_EXPORTER_CA_PATH,
    options: ["authMechanism=MONGODB-X509", "authSource=%24external", `tlsCertificateKeyFile=${MONGO_EXPORTER_PEM_PATH}`],
  });
}

export interface MongoExporterWorkloadInput {
  name: string;
  image: string;
  mongo: DeployedWorkload;
  initJob: DeployedWorkload;
  caCertPem: pulumi.Input<string>;
  exporterPem: pulumi.Input<string>;
}

export function mongoExporterWorkload(input: MongoExporterWorkloadInput): Workload {
  return {
    name: input.name,
    role: "exporter",
    image: input.image,
    args: ["--collect-all", "--compatible-mode", `--web.listen-address=:${MONGO_EXPORTER_PORT}`, "--web.telemetry-path=/metrics"],
    // Backend to reach mongod, monitoring so Prometheus reaches the exporter without reaching mongod.
    zones: ["backend", "monitoring"],
    ports: [{ name: "metrics", port: MONGO_EXPORTER_PORT, zones: ["monitoring"] }],
    env: { MONGODB_URI: input.mongo.host.apply((host) => mongoExporterUri(host)) },
    files: [
      { path: MONGO_EXPORTER_PEM_PATH, content: input.exporterPem, secret: true, mode: 0o400 },
      { path: MONGO_EXPORTER_CA_PATH, content: input.caCertPem, mode: 0o444 },
    ],
    // A scratch image: nothing inside it can run a probe, so Docker runs it unprobed.
    dockerHealthcheck: "none",
    health: {
      readiness: { kind: "tcp", port: MONGO_EXPORTER_PORT },
      liveness: { kind: "tcp", port: MONGO_EXPORTER_PORT, periodSeconds: 30 },
    },
    resources: { cpu: 0.1, memoryMiB: 96 },
    stopGracePeriodSeconds: 10,
    metrics: { port: MONGO_EXPORTER_PORT, path: "/metrics" },
    user: MONGO_EXPORTER_IMAGE_USER,
    readOnlyRootFilesystem: true,
    // Its X.509 user exists only once the init Job has run.
    dependsOn: [input.mongo, input.initJob],
  };
}
