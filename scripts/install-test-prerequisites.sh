#!/usr/bin/env bash
# Installs the Debian packages the tests need (the tools they run, and debootstrap), then builds
# the test-server roots the servers run from at their pinned versions (once per machine:
# scripts/local-servers/build-test-roots.ts), so that `npm test` alone passes on a fresh machine.
# `npm test` runs this first.
#
# Idempotent: it asks dpkg which of the packages below are missing and does nothing when none
# are. As root it runs `apt-get update` once and installs only the missing ones; as anyone else
# it prints what is missing and the command that installs it, and exits non-zero.
#
# Debian starts a packaged server on install (pgbouncer on 6432, prometheus on 9090, ...). The
# tests start their own servers on free ports as their own users, so a running packaged server
# is at best a port squatter: the install runs with a policy-rc.d that forbids starting any
# service (the one Debian's container images ship, or a temporary one of ours).
set -euo pipefail

# One package per line, sorted, each with the tests that need it.
read -r -d '' PACKAGES <<'EOF' || true
busybox-static             # the placeholder image of the Docker rehearsal (tests/engine): sh, nc, ip, stat
debootstrap                # builds the test-server roots (PostgreSQL, PgBouncer, Redis, RabbitMQ at the pinned versions)
docker.io                  # a private dockerd for the Docker rehearsal (tests/engine); bookworm's 20.10 (forky's 28 comes with the forky test root)
iproute2                   # ip netns: the rehearsal's daemon runs in a network namespace of its own
iptables                   # dockerd's isolation and NAT rules, inside that namespace
prometheus                 # promtool, for the monitoring layer's rendered prometheus.yml and rules
prometheus-alertmanager    # amtool, for the monitoring layer's rendered alertmanager.yml
prometheus-node-exporter   # host metrics in the monitoring end-to-end test (tests/e2e)
prometheus-postgres-exporter # PostgreSQL's exporter in the monitoring end-to-end test
prometheus-redis-exporter  # Redis's exporter in the monitoring end-to-end test
shellcheck                 # lints the shell scripts the stack uploads (POSIX sh)
strace                     # counts redis-server's AOF fsyncs (tests/config/redis-server.test.ts)
EOF

wanted=()
while IFS= read -r line; do
  name="${line%%#*}"
  name="${name//[[:space:]]/}"
  [ -n "$name" ] && wanted+=("$name")
done <<<"$PACKAGES"

missing_packages() {
  local pkg status
  for pkg in "${wanted[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [ "$status" = "installed" ] || echo "$pkg"
  done
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-test-prerequisites: this is not a Debian system (no dpkg-query); the tests need: ${wanted[*]}" >&2
  exit 1
fi

# The servers' roots come after the host packages (debootstrap among them). Skippable only for
# this script's own test, which runs it against a fake dpkg and apt-get.
build_test_roots() {
  [ "${FUNDAMENT_TEST_ROOTS_BUILD:-yes}" = skip ] && exit 0
  npx --no-install tsx "$(dirname "$0")/local-servers/build-test-roots.ts"
  exit $?
}

mapfile -t missing < <(missing_packages)
[ ${#missing[@]} -eq 0 ] && build_test_roots

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-prerequisites: missing Debian packages: ${missing[*]}" >&2
  echo "install them with:" >&2
  echo "  sudo apt-get update && sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

# Several test runs on one machine may start at once: one installs, the others wait and re-check.
exec 9>"${TMPDIR:-/tmp}/fundament-test-prerequisites.lock"
flock 9
mapfile -t missing < <(missing_packages)
[ ${#missing[@]} -eq 0 ] && build_test_roots

# (The path is overridable only so that the script's own test need not touch /usr/sbin.)
policy_rc="${FUNDAMENT_POLICY_RC_D:-/usr/sbin/policy-rc.d}"
if [ ! -e "$policy_rc" ]; then
  printf '#!/bin/sh\n# fundament: no service starts during the test prerequisites install\nexit 101\n' >"$policy_rc"
  chmod 0755 "$policy_rc"
  trap 'rm -f "$policy_rc"' EXIT
fi

echo "install-test-prerequisites: installing Debian packages: ${missing[*]}"
apt-get update -qq -o DPkg::Lock::Timeout=300
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null

mapfile -t still < <(missing_packages)
if [ ${#still[@]} -gt 0 ]; then
  echo "install-test-prerequisites: still missing after apt-get install: ${still[*]}" >&2
  exit 1
fi
build_test_roots
