#!/bin/sh
# mongo-restore.sh: restore a MongoDB backup written by the fundament MongoDB backup job
# (components/database/backups/mongo-backup-script.ts) into the platform's running mongod.
#
# Usage:
#   mongo-restore.sh [--yes] <mongo.archive.gz> <mongorestore.yaml> <ca.crt>
#
#   <mongo.archive.gz>   the backup: backups/<UTC timestamp>/mongo.archive.gz on the backup volume,
#                        or mongo/<UTC timestamp>/mongo.archive.gz in the backups bucket.
#   <mongorestore.yaml>  mongorestore's --config file, one line holding the root user's URI:
#                          uri: "mongodb://root:<password>@mongo:27017/?authSource=admin&directConnection=true"
#                        (the password is the result of the mongo-root-password resource in
#                        `npx pulumi stack export --show-secrets`; keep the file mode 0400).
#   <ca.crt>             the platform CA (`npx pulumi stack output tls`, caCertificate).
#   --yes                required to act: collections the archive holds are dropped and replaced.
#                        Without --yes the script checks its inputs, says what it would do, exits 2.
#
# mongod requires TLS: mongorestore connects with --ssl and --sslCAFile (the Database Tools have
# no --tls flag) and verifies the server's chain and host name, so the URI must name a host on
# mongod's leaf certificate (`mongo` in the dev stack; `mongo` or its namespace forms in prod; the
# leaf's names are in `npx pulumi stack output tls`). A URI that turns verification off or TLS off
# is refused. --oplogReplay applies the oplog the dump captured (the one point in time at which the
# dump finished); --drop replaces the collections that exist.
#
# Dev stack (Docker): run it in a container of the same MongoDB image on the backend network:
#   docker run --rm --network <backend network> -v "$PWD/<backup-dir>:/backup:ro" \
#     -v "$PWD/<secrets-dir>:/secrets:ro" -v "$PWD/scripts:/scripts:ro" --entrypoint sh <mongo image> \
#     /scripts/mongo-restore.sh --yes /backup/mongo.archive.gz /secrets/mongorestore.yaml /secrets/ca.crt
# Kubernetes: the same in a pod of the image labelled for the backend zone.
set -eu

usage() {
  sed -n '5,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

confirmed=no
if [ "${1:-}" = "--yes" ]; then
  confirmed=yes
  shift
fi
case "${1:-}" in -h | --help) usage 0 ;; esac
[ $# -eq 3 ] || usage 2
archive="$1"
config="$2"
ca="$3"
for file in "$archive" "$config" "$ca"; do
  [ -f "$file" ] || { echo "mongo-restore: $file is not a file" >&2; exit 1; }
done
gzip -t "$archive" 2> /dev/null || { echo "mongo-restore: $archive is not a complete gzip stream; nothing was changed" >&2; exit 1; }
grep -q 'BEGIN CERTIFICATE' "$ca" || { echo "mongo-restore: $ca holds no PEM certificate; nothing was changed" >&2; exit 1; }
grep -q '^uri:' "$config" || { echo "mongo-restore: $config has no uri: line; nothing was changed" >&2; exit 1; }
if grep -Eiq 'tlsInsecure|AllowInvalid|(tls|ssl)=false' "$config"; then
  echo "mongo-restore: $config turns TLS or its verification off; mongod requires TLS and the server must be verified. Nothing was changed" >&2
  exit 1
fi

if [ "$confirmed" != yes ]; then
  echo "mongo-restore: would restore $archive over TLS (CA $ca), dropping the collections it holds" >&2
  echo "mongo-restore: run again with --yes" >&2
  exit 2
fi

mongorestore --config="$config" --ssl --sslCAFile="$ca" --archive="$archive" --gzip --oplogReplay --drop
echo "mongo-restore: restored $archive" >&2
