const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** AMQPS: the only AMQP listener (plain 5672 is off). */
export const AMQP_PORT = 5671;
/** The management UI and HTTP API over HTTPS (the plain 15672 is off). */
export const MANAGEMENT_PORT = 15671;
export const PROMETHEUS_PORT = 15692;
/** TLS versions the AMQP and management listeners accept, in Erlang's names. */
export const RABBIT_TLS_VERSIONS = ["tlsv1.3", "tlsv1.2"] as const;
export const DEFINITIONS_PATH = "/etc/rabbitmq/definitions.json";

/** Below this the Erlang VM, plugins and a few queues do not fit beside any message data. */
export const MIN_MEMORY_MIB = 256;
/** Memory the VM needs beyond the watermark: flow control starts at the watermark, not at the limit. */
const MEMORY_HEADROOM_MIB = 128;
const PREFERRED_WATERMARK = 0.6;
const MIN_WATERMARK = 0.4;
/** RabbitMQ's own default free-disk alarm threshold. */
const MIN_DISK_FREE_BYTES = 50_000_000;

export interface MemoryPlan {
  /** What RabbitMQ takes as the machine's memory: the container limit, not the host's RAM. */
  totalBytes: number;
  /** vm_memory_high_watermark.relative, two decimals. */
  relative: number;
  /** The point at which publishers are blocked. */
  watermarkBytes: number;
}

/**
 * The watermark is a fraction of the container limit, lowered for small containers so at least
 * 128 MiB stays free for the VM's own allocations above the point where publishers are blocked.
 */
export function rabbitMemoryPlan(memoryMiB: number): MemoryPlan {
  if (!Number.isInteger(memoryMiB) || memoryMiB < MIN_MEMORY_MIB) {
    throw new Error(`memoryMiB: must be an integer of at least ${MIN_MEMORY_MIB} (got ${memoryMiB})`);
  }
  const headroomFraction = (memoryMiB - MEMORY_HEADROOM_MIB) / memoryMiB;
  const relative = Math.floor(Math.max(MIN_WATERMARK, Math.min(PREFERRED_WATERMARK, headroomFraction)) * 100) / 100;
  const totalBytes = memoryMiB * MIB;
  return { totalBytes, relative, watermarkBytes: Math.floor(totalBytes * relative) };
}

/**
 * Free-disk alarm threshold: as much as the memory limit (so the node can page all of its memory
 * out), but never more than a quarter of the volume, or a small volume would alarm while empty.
 */
export function rabbitDiskFreeLimitBytes(memoryMiB: number, storageGiB: number): number {
  if (!(storageGiB >= 1)) throw new Error(`storageGiB: must be at least 1 (got ${storageGiB})`);
  const quarterOfVolume = Math.floor((storageGiB * GIB) / 4);
  return Math.max(MIN_DISK_FREE_BYTES, Math.min(memoryMiB * MIB, quarterOfVolume));
}

/** Where the node finds its TLS material (components/pki delivers the three files). */
export interface RabbitTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

const PLAIN_PATH = /^\/[A-Za-z0-9_./-]+$/;

/**
 * AMQPS only, and management over HTTPS only, both with the platform leaf. Clients authenticate
 * with their user's password (PLAIN inside TLS), not with certificates: `verify_none` asks no
 * client for one. verify_peer with fail_if_no_peer_cert=false would request a certificate on every
 * handshake that no client has (the services hold none), so it would change nothing but the
 * handshake; the clients' side is what matters, and every client verifies the broker against the
 * CA and the host name it dials. Prometheus metrics stay on plain HTTP (see renderRabbitConf).
 */
export function renderRabbitTlsConf(tls: RabbitTlsFiles, ports: { amqps: number; management: number } = { amqps: AMQP_PORT, management: MANAGEMENT_PORT }): string[] {
  const problems = (["caFile", "certFile", "keyFile"] as const)
    .filter((field) => !PLAIN_PATH.test(tls[field]))
    .map((field) => `rabbitmq tls.${field}: must be an absolute path of letters, digits, _ . / - (got ${JSON.stringify(tls[field])})`);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  const versions = (prefix: string) => RABBIT_TLS_VERSIONS.map((version, i) => `${prefix}.versions.${i + 1} = ${version}`);
  const files = (prefix: string) => [`${prefix}.cacertfile = ${tls.caFile}`, `${prefix}.certfile = ${tls.certFile}`, `${prefix}.keyfile = ${tls.keyFile}`];
  return [
    "listeners.tcp = none",
    `listeners.ssl.default = ${ports.amqps}`,
    ...files("ssl_options"),
    "ssl_options.verify = verify_none",
    "ssl_options.fail_if_no_peer_cert = false",
    "ssl_options.honor_cipher_order = true",
    ...versions("ssl_options"),
    "",
    `management.ssl.port = ${ports.management}`,
    ...files("management.ssl"),
    ...versions("management.ssl"),
  ];
}

export interface RabbitConfInput {
  /** The container's memory limit. */
  memoryMiB: number;
  /** Size of the data volume. */
  storageGiB: number;
  definitionsPath?: string;
  tls: RabbitTlsFiles;
}

/**
 * rabbitmq.conf for one node. The image ships conf.d/10-defaults.conf with
 * `loopback_users.guest = false` (guest from anywhere); this file is mounted after it and
 * restores the loopback restriction, and loading definitions at boot means no guest user is
 * seeded in the first place.
 *
 * The Prometheus endpoint stays plain HTTP on its own port: it is offered in the monitoring zone
 * only, carries no credential and no message data, and is scraped exactly like every exporter
 * there (none of which speaks TLS), so Prometheus needs no per-target TLS setting for it.
 */
export function renderRabbitConf(input: RabbitConfInput): string {
  const memory = rabbitMemoryPlan(input.memoryMiB);
  const diskFree = rabbitDiskFreeLimitBytes(input.memoryMiB, input.storageGiB);
  return [
    "# Rendered by components/broker/rabbitmq-conf.ts; edit the renderer, not this file.",
    ...renderRabbitTlsConf(input.tls),
    `prometheus.tcp.port = ${PROMETHEUS_PORT}`,
    "",
    "loopback_users.guest = true",
    "auth_mechanisms.1 = PLAIN",
    "auth_mechanisms.2 = AMQPLAIN",
    "",
    `total_memory_available_override_value = ${memory.totalBytes}`,
    `vm_memory_high_watermark.relative = ${memory.relative.toFixed(2)}`,
    `disk_free_limit.absolute = ${diskFree}`,
    "",
    "prometheus.return_per_object_metrics = true",
    `load_definitions = ${input.definitionsPath ?? DEFINITIONS_PATH}`,
    "",
    "log.console = true",
    "log.console.level = info",
    "log.file = false",
    "",
  ].join("\n");
}
