#!/usr/bin/env bash
# A cluster's figures (BENCHMARKS.md, "A cluster of three nodes"): three
# nodes on one fresh PostgreSQL database and one Redis prefix, all pinned to
# CPU 0, the generator on CPU 1, PostgreSQL and Redis where the system puts
# them.
#   1. revocation across nodes: IDLE sockets spread over the three nodes, a
#      victim's socket on node B, its logout posted to node C; the time from
#      the logout to the victim's 4003 (wsauth-bench revoke --peer).
#   2. Redis's cost per handshake: Redis's CPU time (from /proc) and its
#      command count (INFO commandstats) over a handshake run against node A.
# The handshake rate against a single node is bench/pairs.sh cluster.
#
#   bench/cluster.sh
#
# Environment: IDLE [8000], ROUNDS [200], DURATION [10] seconds of handshakes,
# CLUSTER_POSTGRES [postgres://postgres@127.0.0.1:5432], CLUSTER_REDIS
# [redis://127.0.0.1:6379], CARGO_TARGET_DIR [target].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
IDLE="${IDLE:-8000}"
ROUNDS="${ROUNDS:-200}"
DURATION="${DURATION:-10}"
PG="${CLUSTER_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
REDIS="${CLUSTER_REDIS:-redis://127.0.0.1:6379}"
cargo build --release -q -p wsauth-bench -p wsauth-server --bins
BENCH="$CARGO_TARGET_DIR/release/wsauth-bench"
WSAUTH="$CARGO_TARGET_DIR/release/wsauth"
SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
DB="wsauth_cluster_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
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
ulimit -n 65536 2> /dev/null || true

ADDRS=()
for name in a b c; do
  log="$WORK/$name.log"
  env WSAUTH_HMAC_SECRET="$SECRET" WSAUTH_LOG=warn WSAUTH_DATABASE_URL="$PG/$DB" \
    WSAUTH_REDIS_URL="$REDIS" WSAUTH_REDIS_PREFIX="$DB:" \
    WSAUTH_LIMITS_HANDSHAKE_RATE=0 WSAUTH_LIMITS_MESSAGE_RATE=0 \
    WSAUTH_LIMITS_CONNECTION_RATE=0 WSAUTH_LIMITS_PASSWORD_RATE=0 \
    WSAUTH_LIMITS_MAX_CONNECTIONS_PER_USER=100000 \
    taskset -c 0 "$WSAUTH" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name" > "$log" 2>&1 &
  PIDS+=($!)
  ADDRS+=("$(listening_address "$log")")
done
echo "nodes: ${ADDRS[*]} (database $DB)" >&2

echo "== revocation across nodes: $IDLE idle sockets over three nodes, $ROUNDS logouts" >&2
taskset -c 1 "$BENCH" revoke --url "ws://${ADDRS[1]}/ws" --peer "ws://${ADDRS[2]}/ws" \
  --peer "ws://${ADDRS[0]}/ws" --hmac-secret="$SECRET" --users 64 --idle "$IDLE" \
  --repeat "$ROUNDS" --duration 300 --label cluster-revoke 2> "$WORK/revoke.log" | tail -n 1 \
  || { cat "$WORK/revoke.log" >&2; exit 1; }

echo "== Redis per handshake: $DURATION s of handshakes against node A" >&2
REDIS_PID="$(redis-cli -u "$REDIS" info server | tr -d '\r' | sed -n 's/^process_id://p')"
redis_cpu_ticks() { awk '{print $14 + $15}' "/proc/$REDIS_PID/stat"; }
redis_calls() {
  redis-cli -u "$REDIS" info commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_\([a-z]*\):calls=\([0-9]*\).*/\2/p' | paste -sd+ | bc
}
calls0="$(redis_calls)"; cpu0="$(redis_cpu_ticks)"
line="$(taskset -c 1 "$BENCH" handshake --url "ws://${ADDRS[0]}/ws" --hmac-secret="$SECRET" \
  --users 64 --concurrency 64 --duration "$DURATION" --warmup 0 --label cluster-handshake \
  --server-pid "${PIDS[0]}" 2> "$WORK/handshake.log" | tail -n 1)"
calls1="$(redis_calls)"; cpu1="$(redis_cpu_ticks)"
echo "$line"
python3 - "$line" "$((calls1 - calls0))" "$((cpu1 - cpu0))" "$(getconf CLK_TCK)" << 'PY'
import json, sys
r = json.loads(sys.argv[1]); calls, ticks, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = r["ok"]
print(f"{ok} handshakes at {r['rate_per_s']:.0f}/s; Redis: {calls} commands "
      f"({calls / ok:.2f} per handshake), {ticks / hz:.2f} s of CPU "
      f"({1e6 * ticks / hz / ok:.1f} us per handshake)")
PY
