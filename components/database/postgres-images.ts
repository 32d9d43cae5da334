/**
 * Pinned images for the PostgreSQL layer, recommended as the stack-config defaults.
 *
 * PostgreSQL major 15: the config tests start the local PostgreSQL 15 binaries with the
 * rendered postgresql.conf, pg_hba.conf and init SQL, and the backup test restores with
 * pg_dump/pg_restore 15. Pinning the image to the major those tests run is the only way what is
 * deployed is what was tested; 15 is supported upstream until November 2027. The rendered files
 * use no setting that 16 or 17 removed, so moving the major is a config change plus a dump and
 * restore (scripts/postgres-restore.sh), once the tests run against that major.
 */
export const POSTGRES_IMAGE = "postgres:15.17-bookworm"; // Ships sh, bash, pg_isready, psql; no curl or wget (runtime/image-facts.ts).
/** postgres_exporter: reads DATA_SOURCE_PASS_FILE and still has --extend.query-path. */
export const POSTGRES_EXPORTER_IMAGE = "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"; // busybox base: sh, wget.
/**
 * PgBouncer has no official image; edoburu/pgbouncer is the widely used one that runs as a
 * non-root user (uid 70) and uses a mounted /etc/pgbouncer/pgbouncer.ini untouched.
 */
export const PGBOUNCER_IMAGE = "edoburu/pgbouncer:v1.24.1-p1"; // Alpine: busybox sh and wget, pg_isready and psql; no bash.
/** pgbouncer_exporter: lib/pq underneath, so the password comes from PGPASSFILE. */
export const PGBOUNCER_EXPORTER_IMAGE = "quay.io/prometheuscommunity/pgbouncer-exporter:v0.10.2"; // busybox base: sh, wget.

/** uid/gid of the postgres user in the Debian-based official image. */
export const POSTGRES_IMAGE_USER = { uid: 999, gid: 999 };
/** uid/gid of the postgres user in the Alpine-based PgBouncer image. */
export const PGBOUNCER_IMAGE_USER = { uid: 70, gid: 70 };
/** The prometheuscommunity images run as nobody. */
export const EXPORTER_IMAGE_USER = { uid: 65534, gid: 65534 };
