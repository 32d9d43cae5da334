import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { imageReferenceProblem } from "../config/image-reference";
import { SERVER_VERSIONS } from "../config/server-versions";
import type { LeafCertificate, PlatformPki } from "../pki/platform-pki";
import { tlsFilePaths } from "../pki/tls-files";
import { ADMIN_RATE_LIMIT, type DeployedWorkload, type Runtime, type Workload, type WorkloadResources } from "../runtime/workload";
import { ADMIN_USER, BROKER_VHOST, BrokerModel, validateBrokerModel } from "./broker-model";
import { AMQP_PORT, DEFINITIONS_PATH, MANAGEMENT_PORT, MIN_MEMORY_MIB, PROMETHEUS_PORT, renderRabbitConf } from "./rabbitmq-conf";
import { renderDefinitions, UserCredential } from "./rabbitmq-definitions";
import { ERLANG_COOKIE_SECRET_PATH, rabbitStartCommand } from "./rabbitmq-start";

/**
 * The official image, 4.3 line: quorum queues with at-least-once dead-lettering, policies for
 * delivery-limit, per-object Prometheus metrics. The config tests load the same rendered files
 * into the same minor (components/config/server-versions.ts).
 */
export const RABBITMQ_IMAGE = SERVER_VERSIONS.rabbitmq.image;
/** uid/gid of the rabbitmq user in the official image. */
export const RABBITMQ_IMAGE_USER = { uid: 999, gid: 999 };
/** Mounted after the image's conf.d/10-defaults.conf, whose `loopback_users.guest = false` it overrides. */
export const RABBITMQ_CONF_PATH = "/etc/rabbitmq/conf.d/90-fundament.conf";
export const RABBITMQ_DATA_PATH = "/var/lib/rabbitmq";
/** The node's CA, certificate and key (the key readable by the rabbitmq user only). */
export const RABBITMQ_TLS_PATHS = tlsFilePaths("/etc/rabbitmq/tls");

export interface RabbitMQArgs {
  runtime: Runtime;
  image: string;
  resources: WorkloadResources;
  storageGiB: number;
  model: BrokerModel;
  /** Routes the management UI through the gateway on this host; it is never published on the host. */
  managementHost?: string;
  /** Issues the node's leaf; its CA is what every client verifies the broker against. */
  pki: PlatformPki;
}

export interface AmqpConnection {
  host: string;
  port: number;
  vhost: string;
  user: string;
  password: string;
  /** Always: AMQPS is the only listener. Clients verify the broker against `caCertPem` and `host`. */
  tls: true;
  caCertPem: string;
}

/**
 * Every problem with the arguments, one line each, before any resource exists. Keys are those of
 * the stack config the arguments come from (`fundament:rabbitmq.queues[0].name`).
 */
export function rabbitArgsProblems(args: RabbitMQArgs, keyPrefix = "fundament:rabbitmq"): string[] {
  const problems = validateBrokerModel(args.model, keyPrefix);
  const imageProblem = typeof args.image === "string" ? imageReferenceProblem(args.image) : "must be a string";
  if (imageProblem) problems.push(`${keyPrefix}.image: ${imageProblem} (got ${JSON.stringify(args.image)})`);
  const memory = args.resources?.memoryMiB;
  if (typeof memory !== "number" || !Number.isInteger(memory) || memory < MIN_MEMORY_MIB) {
    problems.push(`${keyPrefix}.memoryMiB: must be an integer of at least ${MIN_MEMORY_MIB} (got ${JSON.stringify(memory)})`);
  }
  const cpu = args.resources?.cpu;
  if (typeof cpu !== "number" || !(cpu > 0)) problems.push(`${keyPrefix}.cpu: must be a number above 0 (got ${JSON.stringify(cpu)})`);
  if (typeof args.storageGiB !== "number" || !Number.isInteger(args.storageGiB) || args.storageGiB < 1) {
    problems.push(`${keyPrefix}.storageGiB: must be an integer of at least 1 (got ${JSON.stringify(args.storageGiB)})`);
  }
  return problems;
}

/** The node as a Workload: pure, so tests can read exactly what the runtime is asked for. */
export function rabbitWorkload(
  name: string,
  args: Omit<RabbitMQArgs, "pki">,
  definitions: pulumi.Input<string>,
  erlangCookie: pulumi.Input<string>,
  leaf: LeafCertificate,
  admin?: { password: pulumi.Input<string>; bcryptHash: pulumi.Input<string> },
): Workload {
  const tls = { caFile: RABBITMQ_TLS_PATHS.ca, certFile: RABBITMQ_TLS_PATHS.cert, keyFile: RABBITMQ_TLS_PATHS.key };
  return {
    name,
    image: args.image,
    command: rabbitStartCommand(),
    // Console logging is on and file logging off, but the node still writes small logs (the
    // upgrade log) under the log base: keep them on the data volume, the root filesystem is read-only.
    env: { RABBITMQ_LOG_BASE: `${RABBITMQ_DATA_PATH}/log` },
    zones: ["backend", "monitoring"],
    ports: [
      { name: "amqp", port: AMQP_PORT },
      { name: "prometheus", port: PROMETHEUS_PORT, zones: ["monitoring"] },
      // An admin UI: offered in monitoring, the zone the gateway reaches UIs in (never backend, which
      // would put the gateway beside every data port); reached through the gateway, never published.
      { name: "management", port: MANAGEMENT_PORT, zones: ["monitoring"], ...(args.managementHost ? { publish: "gateway" as const } : {}) },
    ],
    files: [
      { path: RABBITMQ_CONF_PATH, content: renderRabbitConf({ memoryMiB: args.resources.memoryMiB, storageGiB: args.storageGiB, definitionsPath: DEFINITIONS_PATH, tls }) },
      { path: DEFINITIONS_PATH, content: definitions, secret: true, mode: 0o400 },
      // Copied to HOME with mode 0600 by the start command (see rabbitmq-start.ts).
      { path: ERLANG_COOKIE_SECRET_PATH, content: erlangCookie, secret: true, mode: 0o600 },
      ...leaf.files(RABBITMQ_TLS_PATHS),
    ],
    // Port checks: a TCP connect to the AMQPS listener opens no TLS session and needs no certificate.
    health: {
      // Quorum queues replay their logs before the listener opens; give a large broker time.
      startup: { kind: "tcp", port: AMQP_PORT, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 60 },
      readiness: { kind: "tcp", port: AMQP_PORT, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
      // A port check, not rabbitmq-diagnostics: the CLI boots its own Erlang VM and can hang for
      // tens of seconds under load, and a liveness failure restarts a node that was only busy.
      liveness: { kind: "tcp", port: AMQP_PORT, periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 6 },
    },
    resources: args.resources,
    storage: [{ name: "data", path: RABBITMQ_DATA_PATH, sizeGiB: args.storageGiB }],
    // Time for quorum queues to flush and clients to see a clean connection.close.
    stopGracePeriodSeconds: 60,
    metrics: { port: PROMETHEUS_PORT, path: "/metrics" },
    // The management UI sends its own login as Basic auth on every call: the gateway checks that
    // same login (the admin user's) rather than a password of its own that would collide with it.
    // The gateway reaches it over HTTPS, verified against the platform CA (tls).
    ...(args.managementHost
      ? { route: { host: args.managementHost, port: "management", basicAuth: true, rateLimit: ADMIN_RATE_LIMIT, tls: true, ...(admin ? { backendLogin: { user: ADMIN_USER, ...admin } } : {}) } }
      : {}),
    user: RABBITMQ_IMAGE_USER,
    readOnlyRootFilesystem: true,
  };
}

/**
 * RabbitMQ for the platform: one node, definitions (vhost, exchanges, quorum queues with their
 * dead-letter queues and policies, one least-privilege user per service, an admin user) loaded at
 * boot from a secret file, generated passwords, and per-service connection details as secrets.
 */
export class RabbitMQ extends pulumi.ComponentResource {
  readonly workload: DeployedWorkload;
  readonly connections: Record<string, pulumi.Output<AmqpConnection>>;
  readonly adminPassword: pulumi.Output<string>;
  /** The CA every client of the broker verifies it against (public). */
  readonly caCertPem: pulumi.Output<string>;

  constructor(name: string, args: RabbitMQArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:broker:RabbitMQ", name, {}, opts);
    const problems = rabbitArgsProblems(args);
    if (problems.length > 0) throw new Error(`${name}: invalid RabbitMQ arguments:\n${problems.join("\n")}`);

    const credential = (user: string): { password: random.RandomPassword; salt: random.RandomBytes } => ({
      password: new random.RandomPassword(`${name}-${user}-password`, { length: 40, special: false }, { parent: this }),
      salt: new random.RandomBytes(`${name}-${user}-salt`, { length: 4 }, { parent: this }),
    });
    const admin = credential("admin");
    const services = Object.fromEntries(args.model.services.map((service) => [service.name, credential(service.name)]));
    const cookie = new random.RandomPassword(`${name}-erlang-cookie`, { length: 48, special: false }, { parent: this });

    const asCredential = (entry: { password: random.RandomPassword; salt: random.RandomBytes }): pulumi.Output<UserCredential> =>
      pulumi.all([entry.password.result, entry.salt.base64]).apply(([password, saltBase64]) => ({ password, saltBase64 }));
    const serviceCredentials = pulumi.all(Object.fromEntries(Object.entries(services).map(([service, entry]) => [service, asCredential(entry)])));
    const definitions = pulumi
      .all([serviceCredentials, asCredential(admin)])
      .apply(([servicesByName, adminCredential]) => renderDefinitions({ model: args.model, services: servicesByName, admin: adminCredential }));

    const leaf = args.pki.serverLeaf(name);
    this.caCertPem = args.pki.caCertPem;
    this.workload = args.runtime.deploy(rabbitWorkload(name, args, pulumi.secret(definitions), cookie.result, leaf, { password: admin.password.result, bcryptHash: admin.password.bcryptHash }), {
      parent: this,
    });
    const amqp = this.workload.endpoint("amqp");
    this.connections = Object.fromEntries(
      Object.entries(services).map(([service, entry]) => [
        service,
        pulumi.secret(
          pulumi
            .all([amqp, entry.password.result, this.caCertPem])
            .apply(([endpoint, password, caCertPem]): AmqpConnection => ({ host: endpoint.host, port: endpoint.port, vhost: BROKER_VHOST, user: service, password, tls: true, caCertPem })),
        ),
      ]),
    );
    this.adminPassword = pulumi.secret(admin.password.result);
    this.registerOutputs({ connections: this.connections, adminPassword: this.adminPassword });
  }
}
