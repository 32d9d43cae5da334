// The two Workloads of the Redis layer: the server and its Prometheus exporter.
import * as pulumi from "@pulumi/pulumi";
import type { LeafCertificate } from "../../pki/platform-pki";
import { caFile, tlsFilePaths } from "../../pki/tls-files";
import { DeployedWorkload, Workload, WorkloadResources } from "../../runtime/workload";
import { REDIS_EXPORTER_USER, REDIS_HEALTH_USER } from "./redis-acl";
import { REDIS_PORT, RedisTlsFiles } from "./redis-conf";

export const REDIS_CONF_PATH = "/etc/redis/redis.conf";
export const REDIS_ACL_PATH = "/etc/redis/users.acl";
export const REDIS_DATA_DIR = "/data";
export const REDIS_HEALTH_PASSWORD_PATH = "/run/secrets/redis/health-password";
export const REDIS_EXPORTER_PASSWORDS_PATH = "/run/secrets/redis-exporter/passwords.json";
export const REDIS_EXPORTER_PORT = 9121;
/** The server's CA, certificate and key (the key readable by the redis user only). */
export const REDIS_TLS_PATHS = tlsFilePaths("/etc/redis/tls");
export const REDIS_TLS_FILES: RedisTlsFiles = { caFile: REDIS_TLS_PATHS.ca, certFile: REDIS_TLS_PATHS.cert, keyFile: REDIS_TLS_PATHS.key };
/** The CA the exporter verifies Redis against. */
export const REDIS_EXPORTER_CA_PATH = "/etc/redis-exporter/ca.crt";
/**
 * The name the probes dial inside Redis's own container; the server's leaf carries it beside the
 * names the other workloads dial, so the probe verifies the same certificate they do.
 */
export const REDIS_PROBE_HOST = "localhost";

/** The redis user of the official Debian-based image. */
export const REDIS_IMAGE_USER = { uid: 999, gid: 999 };
/** The non-root user redis_exporter's images declare. */
export const REDIS_EXPORTER_IMAGE_USER = { uid: 59000, gid: 59000 };

/**
 * Authenticated PING over TLS, the server verified against the platform CA (the plain port is
 * off). The password is read from its file inside the shell and handed to redis-cli through
 * REDISCLI_AUTH, so neither `ps` nor the container's inspect output shows it. redis-cli exits 0
 * even on an error reply, hence the grep for the exact PONG. The official image's redis-cli is
 * built with TLS (BUILD_TLS=yes), and its shell, cat and grep are in policies/model/image-programs.ts.
 */
export function redisHealthCommand(passwordFile: string, caFilePath: string, port: number = REDIS_PORT, host: string = REDIS_PROBE_HOST): string[] {
  return [
    "sh",
    "-c",
    `REDISCLI_AUTH="$(cat ${passwordFile})" redis-cli --no-auth-warning --tls --cacert ${caFilePath} --sni ${host} -h ${host} -p ${port} --user ${REDIS_HEALTH_USER} ping | grep -qx PONG`,
  ];
}

export interface RedisServerWorkloadInput {
  name: string;
  image: string;
  resources: WorkloadResources;
  storageGiB: number;
  redisConf: string;
  /** Holds password hashes only, so it is an ordinary file. */
  aclFile: pulumi.Input<string>;
  healthPassword: pulumi.Input<string>;
  /** The server's leaf from the platform CA (its key travels as a secret file, mode 0400). */
  leaf: LeafCertificate;
}

export function redisServerWorkload(input: RedisServerWorkloadInput): Workload {
  const probe = redisHealthCommand(REDIS_HEALTH_PASSWORD_PATH, REDIS_TLS_PATHS.ca);
  return {
    name: input.name,
    role: "data",
    image: input.image,
    // The image's entrypoint stays: started as a non-root user it execs redis-server directly.
    args: ["redis-server", REDIS_CONF_PATH],
    zones: ["backend"],
    ports: [{ name: "redis", port: REDIS_PORT }],
    files: [
      { path: REDIS_CONF_PATH, content: input.redisConf, mode: 0o444 },
      { path: REDIS_ACL_PATH, content: input.aclFile, mode: 0o444 },
      { path: REDIS_HEALTH_PASSWORD_PATH, content: input.healthPassword, secret: true, mode: 0o400 },
      ...input.leaf.files(REDIS_TLS_PATHS),
    ],
    health: {
      // Loading a large AOF can take minutes; liveness must not restart a server that is replaying it.
      startup: { kind: "exec", command: probe, periodSeconds: 5, failureThreshold: 60, timeoutSeconds: 5 },
      readiness: { kind: "exec", command: probe, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 },
      liveness: { kind: "exec", command: probe, periodSeconds: 20, failureThreshold: 6, timeoutSeconds: 5 },
    },
    resources: input.resources,
    storage: [{ name: "data", path: REDIS_DATA_DIR, sizeGiB: input.storageGiB }],
    // SIGTERM makes Redis fsync the AOF and write a final RDB; a big dataset needs the time.
    stopGracePeriodSeconds: 60,
    stopSignal: "SIGTERM",
    user: REDIS_IMAGE_USER,
    readOnlyRootFilesystem: true,
  };
}

/** The address redis_exporter dials: `rediss://` is its switch to TLS. */
export function redisExporterAddress(host: string, port: number = REDIS_PORT): string {
  return `rediss://${host}:${port}`;
}

/**
 * redis_exporter's password file is JSON keyed by the Redis URI (REDIS_ADDR exactly). Depending on
 * its version the exporter looks the address up with or without the user name in it, so both keys
 * are written.
 */
export function renderRedisExporterPasswords(host: string, password: string, port: number = REDIS_PORT): string {
  return JSON.stringify({
    [redisExporterAddress(host, port)]: password,
    [`rediss://${REDIS_EXPORTER_USER}@${host}:${port}`]: password,
  });
}

export interface RedisExporterWorkloadInput {
  name: string;
  image: string;
  redis: DeployedWorkload;
  passwordsFile: pulumi.Input<string>;
  caCertPem: pulumi.Input<string>;
}

export function redisExporterWorkload(input: RedisExporterWorkloadInput): Workload {
  return {
    name: input.name,
    role: "exporter",
    image: input.image,
    // Backend to reach Redis, monitoring so Prometheus reaches the exporter without reaching Redis.
    zones: ["backend", "monitoring"],
    ports: [{ name: "metrics", port: REDIS_EXPORTER_PORT, zones: ["monitoring"] }],
    env: {
      // The exporter (Go, redigo) verifies the chain against the CA and the host name against the
      // address's host, which the server's leaf carries.
      REDIS_ADDR: pulumi.output(input.redis.host).apply((host) => redisExporterAddress(host)),
      REDIS_EXPORTER_TLS_CA_CERT_FILE: REDIS_EXPORTER_CA_PATH,
      REDIS_USER: REDIS_EXPORTER_USER,
      REDIS_PASSWORD_FILE: REDIS_EXPORTER_PASSWORDS_PATH,
      REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `:${REDIS_EXPORTER_PORT}`,
    },
    files: [{ path: REDIS_EXPORTER_PASSWORDS_PATH, content: input.passwordsFile, secret: true, mode: 0o400 }, caFile(REDIS_EXPORTER_CA_PATH, input.caCertPem)],
    health: {
      readiness: { kind: "http", port: REDIS_EXPORTER_PORT, path: "/health" },
      liveness: { kind: "http", port: REDIS_EXPORTER_PORT, path: "/health", periodSeconds: 30 },
    },
    resources: { cpu: 0.1, memoryMiB: 64 },
    stopGracePeriodSeconds: 10,
    metrics: { port: REDIS_EXPORTER_PORT, path: "/metrics" },
    user: REDIS_EXPORTER_IMAGE_USER,
    readOnlyRootFilesystem: true,
    dependsOn: [input.redis],
  };
}
