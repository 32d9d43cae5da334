import { SERVER_VERSIONS } from "../../config/server-versions";

/**
 * Pinned images for the PostgreSQL layer, recommended as the stack-config defaults; the versions
 * and the Debian packages the tests run are recorded in components/config/server-versions.ts.
 *
 * PostgreSQL major 17: the config tests start PostgreSQL 17 (from the trixie test root) with the
 * rendered postgresql.conf, pg_hba.conf and init SQL, and the backup test restores with
 * pg_dump/pg_restore 17. Pinning the image to the major those tests run is the only way what is
 * deployed is what was tested. A data directory of another major needs a dump and restore
 * (scripts/postgres-restore.sh) to move to it.
 */
export const POSTGRES_IMAGE = SERVER_VERSIONS.postgres.image;
/** postgres_exporter: reads DATA_SOURCE_PASS_FILE and still has --extend.query-path. */
export const POSTGRES_EXPORTER_IMAGE = SERVER_VERSIONS.postgresExporter.image;
/**
 * PgBouncer has no official image; edoburu/pgbouncer is the widely used one that runs as a
 * non-root user (uid 70) and uses a mounted /etc/pgbouncer/pgbouncer.ini untouched.
 */
export const PGBOUNCER_IMAGE = SERVER_VERSIONS.pgbouncer.image;
/** pgbouncer_exporter: lib/pq underneath, so the password comes from PGPASSFILE. */
export const PGBOUNCER_EXPORTER_IMAGE = SERVER_VERSIONS.pgbouncerExporter.image;

/** uid/gid of the postgres user in the Debian-based official image. */
export const POSTGRES_IMAGE_USER = { uid: 999, gid: 999 };
/** uid/gid of the postgres user in the Alpine-based PgBouncer image. */
export const PGBOUNCER_IMAGE_USER = { uid: 70, gid: 70 };
/** The prometheuscommunity images run as nobody. */
export const EXPORTER_IMAGE_USER = { uid: 65534, gid: 65534 };
