#!/bin/sh
# postgres-restore.sh: restore databases from a backup written by the fundament backup job
# (components/database/backups/backup-script.ts).
#
# Usage:
#   postgres-restore.sh [--yes] <backup-directory> [database ...]
#
#   <backup-directory>  one timestamped directory under backups/ on the backup volume, e.g.
#                       /backups/backups/20261126T020000Z with the volume mounted on /backups;
#                       it holds <database>.dump (pg_dump custom format) per database and
#                       globals.sql (roles and memberships, no password hashes).
#   database ...        the databases to restore; default: every database in the backup.
#   --yes               required to act: roles the backup has and the server lacks are created,
#                       then each named database is DROPPED (its connections are terminated)
#                       and recreated from the dump, with its owner and grants.
#                       Without --yes the script lists what it would restore and exits 2.
#
# Onto an empty cluster: deploy the platform first (its init SQL creates the service roles with
# the platform's passwords, and empty databases), then run this. Roles from globals.sql keep the
# server's passwords: the backup holds none, so a role only the backup knew has no password
# until an operator sets one.
#
# Connection: the libpq environment. PGUSER must be a superuser (it drops and creates databases);
# give the password through PGPASSFILE (a file of mode 0600), never on the command line.
# Over the network the server takes TLS only: the script connects with PGSSLMODE=verify-full
# (a weaker mode is refused) and needs PGSSLROOTCERT, the platform CA
# (`pulumi stack output caCertificate`); PGHOST must be a name the server's certificate carries.
#   PGHOST PGPORT PGUSER PGPASSFILE PGSSLROOTCERT
# The client tools (psql, pg_restore) must be of the server's major version; the PostgreSQL
# image the stack runs has them.
#
# Dev stack (Docker), from the repository root; <backups> is the backup job's volume and
# <network> the backend zone network:
#   docker run --rm -it --network <network> \
#     -v <backups>:/backups:ro -v "$PWD/scripts:/scripts:ro" -v "$HOME/.pgpass-fundament:/pgpass:ro" \
#     -v "$PWD/platform-ca.crt:/ca.crt:ro" -e PGSSLROOTCERT=/ca.crt \
#     -e PGHOST=postgres -e PGUSER=postgres -e PGPASSFILE=/pgpass \
#     <the stack's postgres image, fundament:postgres.image> sh /scripts/postgres-restore.sh --yes /backups/backups/20261126T020000Z users
# Prod (Kubernetes): run the same command in a pod that mounts the backup claim.
#
# Services reconnect through PgBouncer on their own; pause them first if they must not see the
# database disappear for the seconds the restore takes (RECONNECT / PAUSE on the PgBouncer console).
set -eu

usage() {
  sed -n '5,22p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

# libpq ignores sslmode on a Unix socket (PGHOST a directory), so this only binds network logins.
case "${PGSSLMODE:-verify-full}" in
  verify-full) export PGSSLMODE=verify-full ;;
  *) echo "postgres-restore: PGSSLMODE=$PGSSLMODE would not verify the server; unset it (the script uses verify-full)" >&2; exit 1 ;;
esac
case "${PGHOST:-}" in
  '' | /*) ;;
  *)
    if [ -z "${PGSSLROOTCERT:-}" ] || [ ! -r "$PGSSLROOTCERT" ]; then
      echo "postgres-restore: PGSSLROOTCERT must name the platform CA file (readable) to verify $PGHOST" >&2
      exit 1
    fi
    ;;
esac

confirmed=no
if [ "${1:-}" = "--yes" ]; then
  confirmed=yes
  shift
fi
[ $# -ge 1 ] || usage 2
case "$1" in -h | --help) usage 0 ;; esac
backup="$1"
shift
[ -d "$backup" ] || { echo "postgres-restore: $backup is not a directory" >&2; exit 1; }

if [ $# -eq 0 ]; then
  set --
  for dump in "$backup"/*.dump; do
    [ -e "$dump" ] || { echo "postgres-restore: $backup holds no .dump files" >&2; exit 1; }
    name=$(basename "$dump" .dump)
    set -- "$@" "$name"
  done
fi

for db in "$@"; do
  case "$db" in
    *[!A-Za-z0-9_]* | '') echo "postgres-restore: '$db' is not a database name this backup can hold" >&2; exit 1 ;;
  esac
  [ -f "$backup/$db.dump" ] || { echo "postgres-restore: no dump for $db in $backup" >&2; exit 1; }
  # Check every archive before dropping anything.
  pg_restore --list "$backup/$db.dump" > /dev/null || { echo "postgres-restore: $backup/$db.dump is unreadable" >&2; exit 1; }
done

globals="$backup/globals.sql"
if [ -f "$globals" ]; then
  grep -q '^CREATE ROLE ' "$globals" || { echo "postgres-restore: $globals holds no roles" >&2; exit 1; }
else
  echo "postgres-restore: $backup has no globals.sql (a backup from before roles were kept): roles must already exist" >&2
  globals=
fi

if [ "$confirmed" != yes ]; then
  [ -n "$globals" ] && echo "postgres-restore: would create the roles in $globals that ${PGHOST:-the local server} lacks" >&2
  echo "postgres-restore: would drop and restore on ${PGHOST:-local socket}: $*" >&2
  echo "postgres-restore: run again with --yes to do it" >&2
  exit 2
fi

if [ -n "$globals" ]; then
  # A role the server already has (the platform's own, from its init SQL) is kept with its
  # password; its attributes and memberships are set as the backup had them. ($restore$ is SQL
  # dollar quoting, not a shell expansion.)
  # shellcheck disable=SC2016
  sed 's/^CREATE ROLE \(.*\);$/DO $restore$ BEGIN CREATE ROLE \1; EXCEPTION WHEN duplicate_object THEN NULL; END $restore$;/' "$globals" \
    | psql -X -q -v ON_ERROR_STOP=1 -d template1 > /dev/null \
    || { echo "postgres-restore: roles from $globals could not be applied; no database was touched" >&2; exit 1; }
  echo "postgres-restore: roles and memberships applied from $globals" >&2
fi

for db in "$@"; do
  echo "postgres-restore: restoring $db from $backup/$db.dump" >&2
  psql -X -q -v ON_ERROR_STOP=1 -d template1 -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
  pg_restore --create --exit-on-error --dbname=template1 "$backup/$db.dump"
  echo "postgres-restore: $db restored" >&2
done
