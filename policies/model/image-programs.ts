/**
 * What each pinned image ships that a probe can run inside it: read from the image's published
 * Dockerfile (and its base image) at the pinned tag. Docker runs a healthcheck inside the
 * container, so a probe that calls a program the image lacks never turns healthy, and with
 * `wait: true` nothing after it is ever created. Kubernetes runs http and tcp probes from the
 * kubelet; only exec probes run inside the container there.
 *
 * A new image or a moved pin needs its entry checked here: the Docker runtime refuses a workload
 * whose image has no entry rather than guess.
 */
export interface ImageFacts {
  /** The pin these facts were read at. */
  verifiedAt: string;
  /** Where they were read. */
  source: string;
  /** Programs on the image's PATH that probes may use: shells, HTTP clients, server clients. */
  programs: readonly string[];
}

/** Facts per repository, without registry host or tag (a mirror of the same image matches). */
const FACTS: Record<string, ImageFacts> = {
  postgres: {
    verifiedAt: "postgres:15.17-bookworm",
    source: "docker-library/postgres 15/bookworm/Dockerfile (debian:bookworm-slim; no curl or wget)",
    programs: ["sh", "bash", "pg_isready", "psql", "pg_dump", "pg_restore"],
  },
  "edoburu/pgbouncer": {
    verifiedAt: "edoburu/pgbouncer:v1.24.1-p1",
    source: "edoburu/docker-pgbouncer v1.24.1-p1 Dockerfile (alpine:3.21 + busybox, libevent, postgresql-client; no bash)",
    programs: ["sh", "wget", "pg_isready", "psql"],
  },
  "prometheuscommunity/postgres-exporter": {
    verifiedAt: "quay.io/prometheuscommunity/postgres-exporter:v0.17.1",
    source: "prometheus-community/postgres_exporter Dockerfile (quay.io/prometheus/busybox base)",
    programs: ["sh", "wget"],
  },
  "prometheuscommunity/pgbouncer-exporter": {
    verifiedAt: "quay.io/prometheuscommunity/pgbouncer-exporter:v0.10.2",
    source: "prometheus-community/pgbouncer_exporter Dockerfile (quay.io/prometheus/busybox base)",
    programs: ["sh", "wget"],
  },
  redis: {
    verifiedAt: "redis:7.4.5-bookworm",
    source: "docker-library/redis 7.4/debian/Dockerfile (debian:bookworm-slim; build tools purged, no curl or wget)",
    programs: ["sh", "bash", "redis-cli", "grep", "cat"],
  },
  "oliver006/redis_exporter": {
    verifiedAt: "oliver006/redis_exporter:v1.74.0-alpine",
    source: "oliver006/redis_exporter docker/Dockerfile, alpine target (busybox)",
    programs: ["sh", "wget"],
  },
  mongo: {
    verifiedAt: "mongo:8.0.12-noble",
    source: "docker-library/mongo 8.0/Dockerfile (ubuntu:noble; jq, numactl, procps; mongosh)",
    programs: ["sh", "bash", "mongosh"],
  },
  "percona/mongodb_exporter": {
    verifiedAt: "percona/mongodb_exporter:0.44.0",
    source: "percona/mongodb_exporter release image (the exporter binary alone: no shell)",
    programs: [],
  },
  rabbitmq: {
    verifiedAt: "rabbitmq:4.1.6-management",
    source: "docker-library/rabbitmq 4.1/ubuntu/Dockerfile + management (ubuntu:noble; no curl or wget)",
    programs: ["sh", "bash", "rabbitmq-diagnostics", "rabbitmqctl"],
  },
  "minio/minio": {
    verifiedAt: "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z",
    source: "minio/minio Dockerfile.release at that tag (ubi9/ubi-micro + static curl and mc; no wget)",
    programs: ["sh", "bash", "curl", "mc"],
  },
  "minio/mc": {
    verifiedAt: "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z",
    source: "minio/mc Dockerfile.release at that tag (ubi9/ubi-micro + mc)",
    programs: ["sh", "bash", "mc"],
  },
  "hashicorp/consul": {
    verifiedAt: "hashicorp/consul:1.22.3",
    source:
      "hashicorp/consul Dockerfile, official/default targets (alpine + busybox, curl, jq, dumb-init, su-exec; user consul uid 100, group consul gid 1000; " +
      "ENTRYPOINT docker-entrypoint.sh: `agent` adds -data-dir=/consul/data -config-dir=/consul/config, chowns and su-execs unless CONSUL_DISABLE_PERM_MGMT is set)",
    programs: ["sh", "curl", "jq", "consul"],
  },
  "prom/prometheus": {
    verifiedAt: "prom/prometheus:v3.5.3",
    source: "prometheus/prometheus Dockerfile (quay.io/prometheus/busybox base; USER nobody; ENTRYPOINT /bin/prometheus)",
    programs: ["sh", "wget", "promtool"],
  },
  "prom/alertmanager": {
    verifiedAt: "prom/alertmanager:v0.33.1",
    source: "prometheus/alertmanager Dockerfile (quay.io/prometheus/busybox base; USER nobody; ENTRYPOINT /bin/alertmanager)",
    programs: ["sh", "wget", "amtool"],
  },
  "grafana/grafana": {
    verifiedAt: "grafana/grafana:12.1.1",
    source: "grafana/grafana Dockerfile (alpine base with busybox; USER 472; documentation only: not read at the tag here)",
    programs: ["sh", "wget"],
  },
  "jaegertracing/jaeger": {
    verifiedAt: "jaegertracing/jaeger:2.10.0",
    source: "jaegertracing/jaeger v2.10.0 cmd/jaeger/Dockerfile (base_image baseimg_alpine: alpine + busybox; USER 10001; VOLUME /tmp)",
    programs: ["sh", "wget"],
  },
  "prometheus/node-exporter": {
    verifiedAt: "quay.io/prometheus/node-exporter:v1.11.1",
    source: "prometheus/node_exporter Dockerfile (quay.io/prometheus/busybox-linux-<arch> base; USER nobody; ENTRYPOINT /bin/node_exporter; EXPOSE 9100)",
    programs: ["sh", "wget"],
  },
  "google/cadvisor": {
    verifiedAt: "ghcr.io/google/cadvisor:v0.60.5",
    source:
      "google/cadvisor v0.60.5 deploy/Dockerfile (alpine:3.23 + busybox, device-mapper, findutils, ndctl, thin-provisioning-tools, zfs; no USER: root; " +
      "ENTRYPOINT /usr/bin/entrypoint.sh, which execs /usr/bin/cadvisor -logtostderr \"$@\"; its HEALTHCHECK is healthcheck.sh: wget of /healthz)",
    programs: ["sh", "wget", "healthcheck.sh"],
  },
  traefik: {
    verifiedAt: "traefik:v3.7.17",
    source: "traefik/traefik-library-image v3.7 alpine Dockerfile (alpine + busybox, ca-certificates, tzdata; /usr/local/bin/traefik; ENTRYPOINT /entrypoint.sh; no USER: root unless the runtime says otherwise)",
    programs: ["sh", "wget", "traefik"],
  },
};

/** The services' own images: services/<name>/Dockerfile, runtime stage node:20.20.2-bookworm-slim. */
export const NODE_SERVICE_IMAGE_FACTS: ImageFacts = {
  verifiedAt: "services/*/Dockerfile (node:20.20.2-bookworm-slim)",
  source: "services/users/Dockerfile and services/config/Dockerfile runtime stage (no curl or wget)",
  programs: ["sh", "bash", "node"],
};

/** "quay.io/minio/minio:RELEASE..." → "minio/minio"; "docker.io/library/redis:7" → "redis". */
export function imageRepository(image: string): string {
  const withoutDigest = image.split("@")[0];
  const parts = withoutDigest.split("/");
  if (parts.length > 1 && (parts[0].includes(".") || parts[0].includes(":") || parts[0] === "localhost")) parts.shift();
  const last = parts.length - 1;
  parts[last] = parts[last].split(":")[0];
  if (parts[0] === "library" && parts.length === 2) parts.shift();
  return parts.join("/");
}

export function factsForImage(image: string): ImageFacts | undefined {
  return FACTS[imageRepository(image)];
}
