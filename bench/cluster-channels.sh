#!/usr/bin/env bash
# Channel messages across a cluster: two nodes on one fresh PostgreSQL
# database and one Redis prefix, both pinned to CPU 0, the generator on
# CPU 1. SUBSCRIBERS sockets on node B subscribed to one channel; a publisher
# on node A sends RATE messages a second, COUNT in all, each with its send
# time; prints the publish-to-delivery latency on B. Then a grant deleted
# through A's admin API: the time to the `unsubscribed` frame on B.
#
#   bench/cluster-channels.sh
#
# Environment: SUBSCRIBERS [100], RATE [1000], COUNT [10000], CLUSTER_POSTGRES
# [postgres://postgres@127.0.0.1:5432], CLUSTER_REDIS [redis://127.0.0.1:6379],
# CARGO_TARGET_DIR [target].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SUBSCRIBERS="${SUBSCRIBERS:-100}"
RATE="${RATE:-1000}"
COUNT="${COUNT:-10000}"
PG="${CLUSTER_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
REDIS="${CLUSTER_REDIS:-redis://127.0.0.1:6379}"
cargo build --release -q -p wsauth-bench -p wsauth-server --bins
BENCH="$CARGO_TARGET_DIR/release/wsauth-bench"
WSAUTH="$CARGO_TARGET_DIR/release/wsauth"
SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
DB="wsauth_channels_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
psql "$PG/postgres" -qc "CREATE DATABASE $DB"
printf '[[channels.rules]]\npattern = "room:*"\nactions = ["subscribe", "publish"]\n' \
  > "$WORK/wsauth.toml"
# start_nodes SUFFIX [NAME=VALUE...]: nodes a and b (logs a$SUFFIX.log,
# b$SUFFIX.log) with the extra settings; their PIDs in PIDS, addresses in ADDRS.
start_nodes() {
  local suffix=$1 name log
  shift
  PIDS=()
  ADDRS=()
  for name in a b; do
    log="$WORK/$name$suffix.log"
    env "$@" WSAUTH_CONFIG="$WORK/wsauth.toml" WSAUTH_HMAC_SECRET="$SECRET" WSAUTH_LOG=warn \
      WSAUTH_DATABASE_URL="$PG/$DB" WSAUTH_REDIS_URL="$REDIS" WSAUTH_REDIS_PREFIX="$DB:" \
      WSAUTH_LIMITS_HANDSHAKE_RATE=0 WSAUTH_LIMITS_MESSAGE_RATE=0 \
      WSAUTH_LIMITS_CONNECTION_RATE=0 WSAUTH_LIMITS_PASSWORD_RATE=0 \
      WSAUTH_LIMITS_MAX_CONNECTIONS_PER_USER=100000 \
      taskset -c 0 "$WSAUTH" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name" > "$log" 2>&1 &
    PIDS+=($!)
    ADDRS+=("$(listening_address "$log")")
  done
}
start_nodes ""
taskset -c 1 "$BENCH" channel-latency --url "ws://${ADDRS[1]}/ws" \
  --publish-url "ws://${ADDRS[0]}/ws" --hmac-secret="$SECRET" --users 16 \
  --subscribers "$SUBSCRIBERS" --rate "$RATE" --count "$COUNT" --duration 120 \
  --server-pid "${PIDS[1]}"

# A right taken away on node A ends the subscription on node B: the grant
# is created and deleted through A's admin API, the victim's socket is on B.
KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
echo "== a grant deleted on node A, the subscription on node B" >&2
for pid in "${PIDS[@]}"; do kill "$pid"; done
wait 2> /dev/null || true
start_nodes -admin WSAUTH_ADMIN_API_KEY="$KEY"
WSAUTH_BENCH_ADMIN_KEY="$KEY" taskset -c 1 "$BENCH" channel-revoke --url "ws://${ADDRS[1]}/ws" \
  --admin-url "http://${ADDRS[0]}" --hmac-secret="$SECRET" --users 16 --others 1000 \
  --repeat 100 --duration 300 --server-pid "${PIDS[1]}"
