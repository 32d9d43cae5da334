import { parseImageReference } from "./image-reference";

/** The roles the platform's runtimes stamp on every container and pod. */
export type WorkloadRole = "data" | "exporter" | "gateway" | "service" | "job" | "monitoring";
const ROLES: readonly WorkloadRole[] = ["data", "exporter", "gateway", "service", "job", "monitoring"];

export function asWorkloadRole(value: string | undefined): WorkloadRole | undefined {
  return ROLES.find((role) => role === value);
}

/** Official images the rules recognise, so resources not made by fundament are judged too. */
export type KnownImage =
  | "postgres"
  | "pgbouncer"
  | "redis"
  | "mongo"
  | "rabbitmq"
  | "minio"
  | "consul"
  | "prometheus"
  | "grafana"
  | "traefik";

const KNOWN_IMAGES: Record<string, KnownImage> = {
  postgres: "postgres",
  pgbouncer: "pgbouncer",
  redis: "redis",
  "redis-stack-server": "redis",
  mongo: "mongo",
  mongodb: "mongo",
  "mongodb-community-server": "mongo",
  rabbitmq: "rabbitmq",
  minio: "minio",
  consul: "consul",
  prometheus: "prometheus",
  grafana: "grafana",
  "grafana-oss": "grafana",
  traefik: "traefik",
};

export function knownImageOf(reference: string | undefined): KnownImage | undefined {
  if (reference === undefined || reference === "") return undefined;
  return KNOWN_IMAGES[parseImageReference(reference).shortName];
}

/** Images that hold state or credentials a client must never reach from outside the platform. */
const DATA_IMAGES: ReadonlySet<KnownImage> = new Set(["postgres", "pgbouncer", "redis", "mongo", "rabbitmq", "minio"]);

/**
 * Ports of data stores and admin consoles: PostgreSQL, PgBouncer, Redis, MongoDB, AMQP,
 * RabbitMQ management, Erlang distribution, MinIO API and console, Consul HTTP and DNS,
 * Prometheus, Alertmanager, Grafana, Jaeger query, Redis Sentinel.
 */
export const DATA_SERVICE_PORTS: ReadonlySet<number> = new Set([
  5432, 6432, 6379, 26379, 27017, 27018, 5672, 5671, 15672, 15671, 25672, 4369, 9000, 9001, 8500, 8600, 9090, 9093, 3000, 16686,
]);

/** The image is asked for only when the role label is missing (it may not be known yet during preview). */
export function isDataWorkload(role: WorkloadRole | undefined, knownImage: () => KnownImage | undefined): boolean {
  if (role === "data") return true;
  if (role !== undefined) return false;
  const known = knownImage();
  return known !== undefined && DATA_IMAGES.has(known);
}
