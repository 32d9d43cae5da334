const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

export const AMQP_PORT = 5672;
export const MANAGEMENT_PORT = 15672;
export const PROMETHEUS_PORT = 15692;
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

export interface RabbitConfInput {
  /** The container's memory limit. */
  memoryMiB: number;
  /** Size of the data volume. */
  storageGiB: number;
  definitionsPath?: string;
}

/**
 * rabbitmq.conf for one node. The image ships conf.d/10-defaults.conf with
 * `loopback_users.guest = false` (guest from anywhere); this file is mounted after it and
 * restores the loopback restriction, and loading definitions at boot means no guest user is
 * seeded in the first place.
 */
export function renderRabbitConf(input: RabbitConfInput): string {
  const memory = rabbitMemoryPlan(input.memoryMiB);
  const diskFree = rabbitDiskFreeLimitBytes(input.memoryMiB, input.storageGiB);
  return [
    "# Rendered by components/broker/rabbitmq-conf.ts; edit the renderer, not this file.",
    `listeners.tcp.default = ${AMQP_PORT}`,
    `management.tcp.port = ${MANAGEMENT_PORT}`,
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
