#!/usr/bin/env bash
# The project's test command (README command two). It installs or starts what
# the tests need, builds everything (benchmarks included, so they cannot rot),
# and runs every test suite.
# Usage: ./test.sh            everything
#        ./test.sh services   only install nginx, man-db and the other tools,
#                             start PostgreSQL and Redis (for running
#                             `cargo nextest` by hand)
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n== %s\n' "$*"; }

# PostgreSQL on 127.0.0.1:5432 (each test creates a database of its own) and
# Redis on 127.0.0.1:6379 (each test uses a key prefix of its own; tests that
# stop Redis start a redis-server of their own on a free port): started if
# they are not running, then waited for.
pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q; }
redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
wait_for() { # name, check
  for _ in $(seq 60); do
    "$2" && return 0
    sleep 0.5
  done
  echo "$1 did not answer within 30 s" >&2
  exit 1
}
start_services() {
  if ! pg_ready; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  fi
  if ! redis_ready; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
  fi
  wait_for "PostgreSQL on 127.0.0.1:5432" pg_ready
  wait_for "Redis on 127.0.0.1:6379" redis_ready
  require_a_password_of_one_role
}

# Every other connection to the local PostgreSQL is trusted; the role
# wsauth_password_check must give its password (scram-sha-256), so a test can
# see what the server prints when authentication fails. Its rule goes first
# (the first rule that matches decides); added once, then the configuration
# is reloaded.
require_a_password_of_one_role() {
  local rule="host all wsauth_password_check 127.0.0.1/32 scram-sha-256"
  local hba
  hba=$(psql -h 127.0.0.1 -U postgres -d postgres -Atc "show hba_file")
  if ! grep -qxF "$rule" "$hba"; then
    echo "PostgreSQL: the role wsauth_password_check must give a password"
    { echo "$rule"; cat "$hba"; } >"$hba.new"
    cat "$hba.new" >"$hba" && rm "$hba.new"
    psql -h 127.0.0.1 -U postgres -d postgres -qAtc "select pg_reload_conf()" >/dev/null
  fi
}

# Debian packages: nginx (the cluster tests put three nodes behind it),
# man-db and groff (the man page tests render it with `man -l`), util-linux's
# `script` (the NO_COLOR test needs a terminal) and systemd-analyze (the
# package check verifies the unit).
install_packages() {
  local missing=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v man >/dev/null || missing+=(man-db)
  command -v groff >/dev/null || missing+=(groff-base)
  command -v script >/dev/null || missing+=(bsdutils)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

if [ "${1:-}" = services ]; then
  install_packages
  start_services
  exit 0
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

log "build (all crates, tests, examples and benchmarks)"
cargo build --workspace --all-targets

log "services and tools the tests need (nginx, man-db, PostgreSQL, Redis)"
install_packages
start_services

log "PyJWT 2 virtualenv the JWKS tests mint external issuers' tokens with"
bash crates/wsauth-server/tests/jwks/setup.sh

log "Rust tests (library and server, real server on loopback)"
cargo nextest run --workspace --no-fail-fast
cargo test --workspace --doc

log "browser end-to-end tests (the demo page in headless Chromium)"
bash e2e/run.sh

log "interop with fastapi-jwt-auth 0.5.0 (the seed system)"
bash interop/run.sh

log "Autobahn conformance (kosoku)"
bash conformance/run.sh

log "fuzzing (each target briefly; fuzz/run.sh long TARGET for the long runs)"
bash fuzz/run.sh short

log "OpenAPI conformance (schemathesis)"
bash openapi-check/run.sh

log "the library's public API against its snapshot (cargo-public-api)"
bash api-check/run.sh

log "the Debian package (cargo-deb: contents, the unpacked binary, the systemd unit)"
bash deploy/check-package.sh
