/**
 * The one record of which server version the stacks deploy and which one the tests run.
 *
 * Each server's image pin (the stack-config default) sits beside the Debian package the tests
 * start from a test-server root of that suite (scripts/local-servers/test-roots.ts builds the roots
 * once per machine with debootstrap). tests/config/server-versions.test.ts asks every started
 * server for its version and fails, naming both, when it and the pin drift apart.
 *
 * How the suite was chosen (as of 2026-12-01): Debian stable (trixie) when its version is still
 * supported upstream and has an image, since a stable suite only takes patch releases and a root
 * built next month tests the same version; otherwise testing (forky). The Debian version noted
 * is what apt installed when the pin was last moved; the test compares at `compare` granularity,
 * so a Debian patch update does not break it, while a new minor (or major) does.
 *
 * MongoDB and MinIO have no Debian package; their pins are not covered here.
 */

export type TestSuite = "trixie" | "forky";

export interface ServerVersion {
  /** The image the stacks deploy unless a stack overrides it. */
  readonly image: string;
  /** Debian suite and package whose binary the tests run. */
  readonly suite: TestSuite;
  readonly debianPackage: string;
  /** The package version apt installed when the pin was last moved (for the record). */
  readonly debianVersion: string;
  /** The executable inside the root, and the user it runs as there. */
  readonly binary: string;
  readonly user: string;
  /** What must agree between image and tested binary: the major (PostgreSQL's minor releases are fixes only) or major.minor. */
  readonly compare: "major" | "minor";
  /** Why this suite and this pin. */
  readonly why: string;
}

export const POSTGRES_MAJOR = 17;

export const SERVER_VERSIONS = {
  postgres: {
    image: "postgres:17.11-trixie",
    suite: "trixie",
    debianPackage: `postgresql-${POSTGRES_MAJOR}`,
    debianVersion: "17.12-0+deb13u1",
    binary: `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin/postgres`,
    user: "postgres",
    compare: "major",
    why: "17 is supported upstream until November 2029 and is Debian stable's; 17.11 is the newest 17.x official image tag on record (17.12 not yet seen)",
  },
  pgbouncer: {
    image: "edoburu/pgbouncer:v1.24.1-p1",
    suite: "trixie",
    debianPackage: "pgbouncer",
    debianVersion: "1.24.1-1+deb13u2",
    binary: "/usr/sbin/pgbouncer",
    user: "postgres",
    compare: "minor",
    why: "edoburu/pgbouncer, the image in use, has no 1.26 (forky's); 1.24.1 is exact on both sides",
  },
  redis: {
    image: "redis:8.0.6-bookworm",
    suite: "forky",
    debianPackage: "redis-server",
    debianVersion: "5:8.0.6-3",
    binary: "/usr/bin/redis-server",
    user: "redis",
    compare: "minor",
    why: "Debian carries Redis 8.0 only (trixie 8.0.2, forky 8.0.6); 8.0.6 is the last 8.0 official image, exact on both sides",
  },
  rabbitmq: {
    image: "rabbitmq:4.3.5-management",
    suite: "forky",
    debianPackage: "rabbitmq-server",
    debianVersion: "4.3.6-1",
    binary: "/usr/lib/rabbitmq/bin/rabbitmq-server",
    user: "rabbitmq",
    compare: "minor",
    why: "community support covers the latest minor only: trixie's 4.0 is out of support, forky has 4.3; 4.3.5 is the newest 4.3 official image tag on record",
  },
  prometheus: {
    image: "prom/prometheus:v3.5.3",
    suite: "forky",
    debianPackage: "prometheus",
    debianVersion: "3.5.3+ds1-6",
    binary: "/usr/bin/prometheus",
    user: "prometheus",
    compare: "minor",
    why: "3.5 is the LTS line after 2.53 (trixie's, whose support ended); exact on both sides",
  },
  alertmanager: {
    image: "prom/alertmanager:v0.33.1",
    suite: "forky",
    debianPackage: "prometheus-alertmanager",
    debianVersion: "0.33.1-5",
    binary: "/usr/bin/prometheus-alertmanager",
    user: "prometheus",
    compare: "minor",
    why: "only the latest release is supported upstream: forky's 0.33, exact on both sides",
  },
  nodeExporter: {
    image: "quay.io/prometheus/node-exporter:v1.11.1",
    suite: "forky",
    debianPackage: "prometheus-node-exporter",
    debianVersion: "1.11.1-3",
    binary: "/usr/bin/prometheus-node-exporter",
    user: "prometheus",
    compare: "minor",
    why: "only the latest release is supported upstream: forky's 1.11, exact on both sides",
  },
  postgresExporter: {
    image: "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
    suite: "trixie",
    debianPackage: "prometheus-postgres-exporter",
    debianVersion: "0.17.1-1+b4",
    binary: "/usr/bin/prometheus-postgres-exporter",
    user: "prometheus",
    compare: "minor",
    why: "trixie carries the pinned 0.17.1 exactly (it still has --extend.query-path, which the stack uses)",
  },
  pgbouncerExporter: {
    image: "quay.io/prometheuscommunity/pgbouncer-exporter:v0.10.2",
    suite: "trixie",
    debianPackage: "prometheus-pgbouncer-exporter",
    debianVersion: "1:0.10.2-2",
    binary: "/usr/bin/prometheus-pgbouncer-exporter",
    user: "prometheus",
    compare: "minor",
    why: "trixie carries the pinned 0.10.2 exactly",
  },
  redisExporter: {
    image: "oliver006/redis_exporter:v1.86.0-alpine",
    suite: "forky",
    debianPackage: "prometheus-redis-exporter",
    debianVersion: "1.86.0-1",
    binary: "/usr/bin/prometheus-redis-exporter",
    user: "prometheus",
    compare: "minor",
    why: "trixie has 1.69 (older than the former pin 1.74); forky's 1.86 is current, exact on both sides",
  },
} as const satisfies Record<string, ServerVersion>;

export type ServerName = keyof typeof SERVER_VERSIONS;

/**
 * Consul has no Debian package (its licence moved to the BSL), so no test root runs it: the pin
 * stands alone, and what the tests know of its behaviour comes from its documentation (the
 * config and ACL models in tests/unit/consul-*.test.ts). The newest 1.x patch on record as of
 * 2026-12-01; the image is hashicorp/consul (the Docker Hub library image ended with 1.15).
 */
export const CONSUL_IMAGE = "hashicorp/consul:1.22.3";

/**
 * Extra packages a root needs beside the servers' own: clients the tests run inside it, and
 * forky's docker.io, the current Docker engine the dev stack is rehearsed on (tests/engine).
 */
export const SUITE_EXTRA_PACKAGES: Readonly<Record<TestSuite, readonly string[]>> = {
  trixie: [`postgresql-client-${POSTGRES_MAJOR}`],
  forky: ["docker.io"],
};

/** The version an image reference's tag names ("postgres:17.11-trixie" → "17.11"), or undefined. */
export function imageVersion(image: string): string | undefined {
  const tag = image.slice(image.lastIndexOf(":") + 1);
  return /^v?(\d+(?:\.\d+)*)/.exec(tag)?.[1];
}

/** The part of a version `compare` looks at: "17" or "4.3". */
export function comparableVersion(version: string, compare: ServerVersion["compare"]): string {
  const parts = version.split(".");
  return (compare === "major" ? parts.slice(0, 1) : parts.slice(0, 2)).join(".");
}

/**
 * Why the version a started server reports does not match its image pin, or undefined when it
 * does: names the image, the server and both versions.
 */
export function versionDrift(name: ServerName, started: string): string | undefined {
  const server: ServerVersion = SERVER_VERSIONS[name];
  const pinned = imageVersion(server.image);
  if (pinned === undefined) return `${name}: image ${server.image} names no version in its tag`;
  const want = comparableVersion(pinned, server.compare);
  const got = comparableVersion(started, server.compare);
  if (want === got) return undefined;
  return `${name}: the stack pins ${server.image} (${want}) but the tests run ${server.debianPackage} ${started} from ${server.suite} (${got}); move the pin or the suite in components/config/server-versions.ts`;
}

/**
 * Images the tests cannot run from a Debian package (Debian carries no Traefik): their pin lives
 * here all the same, and what the stack relies on was read from the project's documentation and
 * source at the pinned line (the reference files under tests/fixtures/traefik/ name the tag they were read at).
 */
export const IMAGE_ONLY_PINS = {
  traefik: {
    image: "traefik:v3.7.17",
    why: "v3.7 is Traefik's current line; v3.7.17 is the newest v3 patch on record (security fixes, November 2026); the reference configuration was read at v3.7.9, the newest tag in the source mirror",
  },
  cadvisor: {
    image: "ghcr.io/google/cadvisor:v0.60.5",
    why:
      "Debian carries no cAdvisor; v0.60.5 is the newest tag in the source mirror (July 2026). Images are published on ghcr.io since v0.53.0 (gcr.io/cadvisor/cadvisor before). " +
      "Read at that tag: container_start_time_seconds is the container's StartedAt (so a restart moves it), and store_container_labels=false keeps Docker's labels (restartcount among them) off the series",
  },
} as const satisfies Record<string, { image: string; why: string }>;
