import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { PlatformPki } from "../../pki/platform-pki";
import { DeployedWorkload, Runtime, WorkloadResources } from "../../runtime/workload";
import { mongoArgsProblems } from "./mongo-args-check";
import { MONGO_BACKUP_USER } from "../backups/mongo-backup-script";
import { mongoCertificates } from "./mongo-certificates";
import { MONGO_PORT, MONGO_REPLICA_SET, renderMongodConf } from "./mongod-conf";
import { MongoIndexSpec, renderMongoInitScript } from "./mongo-init-script";
import {
  MONGO_CA_PATH,
  MONGO_DATA_DIR,
  MONGO_KEYFILE_COPY_PATH,
  MONGO_ROOT_PASSWORD_PATH,
  MONGO_ROOT_USER,
  MONGO_SERVER_PEM_PATH,
  mongoExporterWorkload,
  mongoInitJob,
  mongoServerWorkload,
  mongoServicePasswordPath,
} from "./mongo-workloads";

export type MongoIndex = MongoIndexSpec;

export interface MongoServiceDatabase {
  service: string;
  database: string;
  indexes: MongoIndex[];
}

export interface MongoArgs {
  runtime: Runtime;
  image: string;
  resources: WorkloadResources;
  storageGiB: number;
  /** One database and one user (readWrite on that database only) per consuming service. */
  databases: MongoServiceDatabase[];
  exporterImage: string;
  /** Issues the server's and the exporter's certificates. */
  pki: PlatformPki;
}

export interface MongoConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  replicaSet: string;
  /**
   * Always: mongod refuses plain text. Clients connect with `tls=true` and the CA as `tlsCAFile`
   * (or the driver's `ca`), dialling `host`, which the server's leaf carries.
   */
  tls: true;
  caCertPem: string;
}

export class Mongo extends pulumi.ComponentResource {
  readonly workload: DeployedWorkload;
  /** Initiates rs0 and converges users and indexes; connections only resolve after it has run. */
  readonly initJob: DeployedWorkload;
  readonly exporter: DeployedWorkload;
  /** One per consuming service, keyed by service name; whole values are Pulumi secrets. */
  readonly connections: Record<string, pulumi.Output<MongoConnection>>;
  /** Password of MONGO_BACKUP_USER (role `backup` on admin), for MongoBackup; a Pulumi secret. */
  readonly backupPassword: pulumi.Output<string>;
  /** The platform CA every client verifies mongod against. */
  readonly caCertPem: pulumi.Output<string>;

  constructor(name: string, args: MongoArgs, opts?: pulumi.ComponentResourceOptions) {
    const problems = mongoArgsProblems(args);
    if (problems.length > 0) throw new Error(problems.join("\n"));
    super("fundament:database:Mongo", name, {}, opts);

    const password = (suffix: string, length = 40) =>
      new random.RandomPassword(`${name}-${suffix}`, { length, special: false }, { parent: this });
    const rootPassword = password("root-password");
    // 756 base64-alphabet characters: the longest keyFile MongoDB's documentation generates.
    const keyFile = password("keyfile", 756);
    const servicePasswords = args.databases.map((entry) => ({ entry, password: password(`user-${entry.service}`) }));
    const backupPassword = password("backup-password");
    const certificates = mongoCertificates(name, args.pki);

    this.workload = args.runtime.deploy(
      mongoServerWorkload({
        name,
        image: args.image,
        resources: args.resources,
        storageGiB: args.storageGiB,
        mongodConf: renderMongodConf({
          memoryLimitMiB: args.resources.memoryMiB,
          dbPath: MONGO_DATA_DIR,
          keyFilePath: MONGO_KEYFILE_COPY_PATH,
          tlsCertificateKeyFile: MONGO_SERVER_PEM_PATH,
          tlsCAFile: MONGO_CA_PATH,
        }),
        keyFile: keyFile.result,
        rootPassword: rootPassword.result,
        caCertPem: certificates.caCertPem,
        serverPem: certificates.serverPem,
      }),
      { parent: this },
    );

    const script = this.workload.host.apply((host) =>
      renderMongoInitScript({
        host,
        port: MONGO_PORT,
        tlsCAFile: MONGO_CA_PATH,
        replicaSet: MONGO_REPLICA_SET,
        rootUser: MONGO_ROOT_USER,
        rootPasswordFile: MONGO_ROOT_PASSWORD_PATH,
        exporterSubject: certificates.exporterSubject,
        backup: { user: MONGO_BACKUP_USER, passwordFile: mongoServicePasswordPath(MONGO_BACKUP_USER) },
        services: args.databases.map((entry) => ({
          service: entry.service,
          database: entry.database,
          passwordFile: mongoServicePasswordPath(entry.service),
          indexes: entry.indexes,
        })),
      }),
    );
    this.initJob = args.runtime.run(
      mongoInitJob({
        name: `${name}-init`,
        image: args.image,
        script,
        rootPassword: rootPassword.result,
        servicePasswords: [
          ...servicePasswords.map(({ entry, password: pw }) => ({ service: entry.service, password: pw.result })),
          { service: MONGO_BACKUP_USER, password: backupPassword.result },
        ],
        caCertPem: certificates.caCertPem,
        mongo: this.workload,
      }),
      { parent: this },
    );

    this.exporter = args.runtime.deploy(
      mongoExporterWorkload({
        name: `${name}-exporter`,
        image: args.exporterImage,
        mongo: this.workload,
        initJob: this.initJob,
        caCertPem: certificates.caCertPem,
        exporterPem: certificates.exporterPem,
      }),
      { parent: this },
    );

    const endpoint = this.workload.endpoint("mongo");
    this.connections = Object.fromEntries(
      servicePasswords.map(({ entry, password: pw }) => [
        entry.service,
        pulumi.secret(
          // initJob.host carries the Job as a dependency: whoever consumes the connection waits for its user to exist.
          pulumi.all([endpoint, pw.result, certificates.caCertPem, this.initJob.host]).apply(
            ([{ host, port }, servicePassword, caCertPem]): MongoConnection => ({
              host,
              port,
              database: entry.database,
              user: entry.service,
              password: servicePassword,
              replicaSet: MONGO_REPLICA_SET,
              tls: true,
              caCertPem,
            }),
          ),
        ),
      ]),
    );

    this.backupPassword = pulumi.secret(backupPassword.result);
    this.caCertPem = certificates.caCertPem;
    this.registerOutputs({ host: this.workload.host, connections: this.connections });
  }
}
