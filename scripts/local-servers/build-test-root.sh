#!/usr/bin/env bash
# Builds (or completes) one Debian test-server root: build-test-root.sh <root-dir> <suite> <package>...
#
# The tests run each server at the version its pinned image carries, and Debian's newer suites
# carry those versions. This makes a minimal root of <suite> with debootstrap and installs the
# packages into it; the harness (scripts/local-servers/test-roots.ts) then runs the servers from
# it with chroot, as the servers' own users. Called by scripts/local-servers/build-test-roots.ts,
# which takes the suites and packages from components/config/server-versions.ts.
#
# Once per machine: a root whose stamp already lists every package is left alone (a quick
# check), one that lacks some gets only those installed. Concurrent callers (several clones,
# several test runs) serialise on a lock beside the root; a half-built root never has a stamp,
# and is rebuilt from scratch by the next call.
set -euo pipefail

root="$1"
suite="$2"
shift 2
packages=("$@")
stamp="$root/etc/fundament-test-root"
mirror="${FUNDAMENT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

have_all() {
  [ -f "$stamp" ] || return 1
  local pkg
  for pkg in "${packages[@]}"; do grep -qx "$pkg" "$stamp" || return 1; done
}

have_all && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "build-test-root: building $root needs root (debootstrap and chroot)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "build-test-root: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
have_all && exit 0

# debootstrap knows a suite by its script; a suite newer than this debootstrap (forky on a
# bookworm host) is built by the script of the unstable suite, which every new suite starts from.
script="/usr/share/debootstrap/scripts/$suite"
[ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid

started=$(date +%s)
if [ ! -f "$root/etc/fundament-debootstrap-done" ]; then
  rm -rf "$root.partial" "$root"
  echo "build-test-root: debootstrap $suite into $root (once per machine)"
  debootstrap --variant=minbase "$suite" "$root.partial" "$mirror" "$script" >"$root.log" 2>&1 ||
    { echo "build-test-root: debootstrap failed, see $root.log" >&2; exit 1; }
  # Nothing ever starts a service inside the root: the harness starts the servers itself.
  printf '#!/bin/sh\nexit 101\n' >"$root.partial/usr/sbin/policy-rc.d"
  chmod 0755 "$root.partial/usr/sbin/policy-rc.d"
  # postgresql-common would create and start a "main" cluster on install: the tests make their own.
  mkdir -p "$root.partial/etc/postgresql-common/createcluster.d"
  echo "create_main_cluster = false" >"$root.partial/etc/postgresql-common/createcluster.d/fundament.conf"
  # RabbitMQ node names are name@localhost; debootstrap writes no hosts file.
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root.partial/etc/hosts"
  touch "$root.partial/etc/fundament-debootstrap-done"
  mv "$root.partial" "$root"
fi

# A testing suite's Release file carries a Valid-Until of a week; a mirror that is a snapshot
# serves it expired. The packages are still verified against the signed Release file.
echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99fundament-snapshot"

echo "build-test-root: installing into $root: ${packages[*]}"
# The package scripts want /dev, /proc and /sys; mounted in a private mount namespace, they
# disappear with it and never show on the host.
unshare --mount -- /bin/sh -c '
  set -e
  root="$1"; shift
  for fs in dev proc sys; do mount --rbind "/$fs" "$root/$fs"; done
  exec chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c "
    apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends \"\$@\" &&
    apt-get clean" sh "$@"
' sh "$root" "${packages[@]}" >>"$root.log" 2>&1 ||
  { echo "build-test-root: installing packages failed, see $root.log" >&2; exit 1; }

{
  [ -f "$stamp" ] && cat "$stamp"
  printf '%s\n' "${packages[@]}"
} | sort -u >"$stamp.new"
mv "$stamp.new" "$stamp"
echo "build-test-root: $root ready in $(($(date +%s) - started)) s"
