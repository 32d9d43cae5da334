#!/bin/sh
# redis-restore.sh: prepare an empty Redis data directory from a backup written by the fundament
# Redis backup job (components/database/backups/redis-backup-script.ts), so that the platform's
# redis-server, started on it with its rendered redis.conf unchanged, loads the backup.
#
# Usage:
#   redis-restore.sh [--yes] <dump.rdb> <data-directory>
#
#   <dump.rdb>        the backup: backups/<UTC timestamp>/dump.rdb on the backup volume, or
#                     redis/<UTC timestamp>/dump.rdb in the backups bucket.
#   <data-directory>  the server's data directory (/data in the image) with the server STOPPED.
#   --yes             required to act: whatever the directory holds (dump.rdb, appendonlydir/)
#                     is removed first. Without --yes the script says what it would do, exits 2.
#
# Why not just copy dump.rdb into /data: the rendered redis.conf has `appendonly yes`, and with
# AOF on Redis loads only the append-only files. Started on a lone dump.rdb it comes up EMPTY
# and writes a new, empty AOF base. Redis 7 and later accept an RDB as the AOF's base file, so the
# backup becomes appendonlydir/appendonly.aof.1.base.rdb under a one-line manifest, and the
# server replays it and appends new writes after it.
#
# The backup must come from the same Redis major (or an older one) as the image that loads it.
# The file is checked with redis-check-rdb first when that program is on PATH (the image has it).
#
# Dev stack (Docker): stop the redis container, then run this in a container of the same image
# with the redis data volume on /data and the backup directory on /backup, as the redis user:
#   docker run --rm --user 999:999 -v <redis-data-volume>:/data -v "$PWD/<backup-dir>:/backup:ro" \
#     -v "$PWD/scripts:/scripts:ro" --entrypoint sh <redis image> /scripts/redis-restore.sh --yes /backup/dump.rdb /data
# and start the redis container again. Kubernetes: scale the StatefulSet to 0, run the same in a
# pod that mounts the data claim, scale back to 1.
set -eu

usage() {
  sed -n '5,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

confirmed=no
if [ "${1:-}" = "--yes" ]; then
  confirmed=yes
  shift
fi
case "${1:-}" in -h | --help) usage 0 ;; esac
[ $# -eq 2 ] || usage 2
rdb="$1"
data="$2"
[ -f "$rdb" ] || { echo "redis-restore: $rdb is not a file" >&2; exit 1; }
[ -d "$data" ] || { echo "redis-restore: $data is not a directory" >&2; exit 1; }
if command -v redis-check-rdb > /dev/null 2>&1; then
  redis-check-rdb "$rdb" > /dev/null || { echo "redis-restore: $rdb does not check (redis-check-rdb); nothing was changed" >&2; exit 1; }
fi

if [ "$confirmed" != yes ]; then
  echo "redis-restore: would empty $data and put $rdb there as the AOF base" >&2
  echo "redis-restore: stop the server first, then run again with --yes" >&2
  exit 2
fi

rm -rf "$data/appendonlydir" "$data/dump.rdb" "$data"/temp-*.rdb "$data"/temp-*.aof
mkdir "$data/appendonlydir"
cp "$rdb" "$data/appendonlydir/appendonly.aof.1.base.rdb"
printf 'file appendonly.aof.1.base.rdb seq 1 type b\n' > "$data/appendonlydir/appendonly.aof.manifest"
echo "redis-restore: $data now starts from $rdb" >&2
