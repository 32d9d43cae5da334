import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { PlatformPki } from "../../pki/platform-pki";
import { DeployedWorkload, Runtime, WorkloadResources } from "../../runtime/workload";
import { REDIS_BACKUP_USER, REDIS_EXPORTER_USER, REDIS_HEALTH_USER, RedisAclRole, redisPasswordHash, renderRedisAcl } from "./redis-acl";
import { redisArgsProblems } from "./redis-args-check";
import { EvictionPolicy, renderRedisConf } from "./redis-conf";
import {
  REDIS_ACL_PATH,
  REDIS_DATA_DIR,
  REDIS_PROBE_HOST,
  REDIS_TLS_FILES,
  redisExporterWorkload,
  redisServerWorkload,
  renderRedisExporterPasswords,
} from "./redis-workloads";

export { EvictionPolicy } from "./redis-conf";

export interface RedisArgs {
  runtime: Runtime;
  image: string;
  resources: WorkloadResources;
  storageGiB: number;
  evictionPolicy: EvictionPolicy;
  /**
   * Consuming services. Each gets its own ACL user and password (not one shared app user): a
   * credential can be rotated or revoked for one service, ACL LOG and CLIENT LIST name the
   * service behind a command, and a leak from one service does not speak for the others.
   * Keys are not partitioned between users: services share one keyspace by prefix convention.
   */
  services: string[];
  exporterImage: string;
  /** Issues the server's leaf; its CA is what every client verifies Redis against. */
  pki: PlatformPki;
}

export interface RedisConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Always: the plain port is off. Clients verify the server against `caCertPem` and `host`. */
  tls: true;
  caCertPem: string;
}

interface RedisUserPassword {
  name: string;
  role: RedisAclRole;
  password: random.RandomPassword;
}

export class Redis extends pulumi.ComponentResource {
  readonly workload: DeployedWorkload;
  readonly exporter: DeployedWorkload;
  /** One per consuming service, keyed by service name; whole values are Pulumi secrets. */
  readonly connections: Record<string, pulumi.Output<RedisConnection>>;
  /** Password of the backup user (REDIS_BACKUP_USER), for RedisBackup; a Pulumi secret. */
  readonly backupPassword: pulumi.Output<string>;
  /** The CA every client of this Redis verifies the server against (public). */
  readonly caCertPem: pulumi.Output<string>;

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    const problems = redisArgsProblems(args);
    if (problems.length > 0) throw new Error(problems.join("\n"));
    super("fundament:database:Redis", name, {}, opts);

    const userPassword = (userName: string, role: RedisAclRole): RedisUserPassword => ({
      name: userName,
      role,
      password: new random.RandomPassword(`${name}-user-${userName}`, { length: 40, special: false }, { parent: this }),
    });
    const health = userPassword(REDIS_HEALTH_USER, "healthcheck");
    const exporter = userPassword(REDIS_EXPORTER_USER, "exporter");
    const backup = userPassword(REDIS_BACKUP_USER, "backup");
    const applications = args.services.map((service) => userPassword(service, "application"));
    const users = [...applications, health, exporter, backup];

    // Hashes of 40-character random passwords cannot be reversed, which is what lets the ACL file
    // be an ordinary file; unsecret says so explicitly instead of letting secrecy leak onto it.
    const aclFile = pulumi.unsecret(
      pulumi
        .all(users.map((user) => user.password.result))
        .apply((passwords) =>
          renderRedisAcl(users.map((user, i) => ({ name: user.name, role: user.role, passwordSha256: redisPasswordHash(passwords[i]) }))),
        ),
    );
    const redisConf = renderRedisConf({
      memoryLimitMiB: args.resources.memoryMiB,
      evictionPolicy: args.evictionPolicy,
      aclFilePath: REDIS_ACL_PATH,
      dataDir: REDIS_DATA_DIR,
      tls: REDIS_TLS_FILES,
    });
    // The names the other workloads dial, and the one the probes dial inside the container.
    const leaf = args.pki.serverLeaf(name, { extra: [REDIS_PROBE_HOST] });
    this.caCertPem = args.pki.caCertPem;

    this.workload = args.runtime.deploy(
      redisServerWorkload({
        name,
        image: args.image,
        resources: args.resources,
        storageGiB: args.storageGiB,
        redisConf,
        aclFile,
        healthPassword: health.password.result,
        leaf,
      }),
      { parent: this },
    );

    const exporterPasswords = pulumi.secret(
      pulumi.all([this.workload.host, exporter.password.result]).apply(([host, password]) => renderRedisExporterPasswords(host, password)),
    );
    this.exporter = args.runtime.deploy(
      redisExporterWorkload({ name: `${name}-exporter`, image: args.exporterImage, redis: this.workload, passwordsFile: exporterPasswords, caCertPem: this.caCertPem }),
      { parent: this },
    );

    const endpoint = this.workload.endpoint("redis");
    this.connections = Object.fromEntries(
      applications.map((user) => [
        user.name,
        pulumi.secret(
          pulumi.all([endpoint, user.password.result, this.caCertPem]).apply(([{ host, port }, password, caCertPem]): RedisConnection => ({
            host,
            port,
            user: user.name,
            password,
            tls: true,
            caCertPem,
          })),
        ),
      ]),
    );

    this.backupPassword = pulumi.secret(backup.password.result);
    this.registerOutputs({ host: this.workload.host, connections: this.connections });
  }
}
