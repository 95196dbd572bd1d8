#!/usr/bin/env bash
# The authenticating proxy's cost (BENCHMARKS.md, "The authenticating
# proxy"): one Rust echo upstream (bench-baseline --behind-wsauth) reached
# directly and through a wsauth [[proxy]] route, in alternating runs.
#   1. echo round trips: CONNECTIONS sockets, one echo in flight each, PAIRS
#      pairs (direct, proxied); the p50s' ratio per pair and their median.
#      With one socket the p50 is the hop's latency; with 16 the servers'
#      core is busy and the p50 mostly measures CPU per echo.
#   2. memory: HOLD idle proxied connections, wsauth's RSS per connection
#      (both of its sockets), and the upstream's for comparison.
# The upstream and wsauth run on CPU 0, the generator on CPU 1.
#
#   bench/proxy.sh
#
# Environment: PAIRS [3], DURATION [10] seconds per echo run, CONNECTIONS
# [1 16: each in turn], HOLD [8000],
# CARGO_TARGET_DIR [target].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PAIRS="${PAIRS:-3}"
DURATION="${DURATION:-10}"
HOLD="${HOLD:-8000}"
CONNECTIONS="${CONNECTIONS:-1 16}"
cargo build --release -q -p wsauth-bench -p wsauth-server --bins
BENCH="$CARGO_TARGET_DIR/release/wsauth-bench"
BASELINE="$CARGO_TARGET_DIR/release/bench-baseline"
WSAUTH="$CARGO_TARGET_DIR/release/wsauth"
SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2> /dev/null || true

# start_pair: a fresh upstream and a fresh wsauth proxying /echo to it; sets
# UP (upstream address), UP_PID, PROXY (wsauth address) and PROXY_PID.
start_pair() {
  taskset -c 0 "$BASELINE" --listen 127.0.0.1:0 --hmac-secret="$SECRET" --behind-wsauth \
    > "$WORK/upstream.log" 2>&1 &
  UP_PID=$!; PIDS+=("$UP_PID")
  UP="$(listening_address "$WORK/upstream.log")"
  env WSAUTH_HMAC_SECRET="$SECRET" WSAUTH_LOG=warn WSAUTH_LIMITS_MESSAGE_RATE=0 ${PROXY_ENV:-} \
    WSAUTH_LIMITS_HANDSHAKE_RATE=0 WSAUTH_LIMITS_CONNECTION_RATE=0 \
    WSAUTH_LIMITS_MAX_CONNECTIONS_PER_USER=100000 \
    taskset -c 0 "$WSAUTH" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" \
    --proxy "/echo=ws://$UP/" > "$WORK/wsauth.log" 2>&1 &
  PROXY_PID=$!; PIDS+=("$PROXY_PID")
  PROXY="$(listening_address "$WORK/wsauth.log")"
}

stop_pair() {
  kill "$UP_PID" "$PROXY_PID" 2> /dev/null || true
  wait "$UP_PID" "$PROXY_PID" 2> /dev/null || true
  rm -rf "$WORK/data"
}

echo_p50() { # URL LABEL SOCKETS: one echo run, prints its p50 in µs
  taskset -c 1 "$BENCH" echo --url "$1" --hmac-secret="$SECRET" --connections "$3" \
    --duration "$DURATION" --label "$2" 2> /dev/null | tail -n 1 | tee -a "$WORK/echo.jsonl" |
    python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["rtt_us"]["p50"])'
}

for n in $CONNECTIONS; do
  echo "== echo round trips on $n socket(s): $PAIRS pairs (direct, proxied), $DURATION s each" >&2
  start_pair
  echo_p50 "ws://$UP/" warmup "$n" > /dev/null; echo_p50 "ws://$PROXY/echo" warmup "$n" > /dev/null
  ratios=()
  for i in $(seq "$PAIRS"); do
    direct="$(echo_p50 "ws://$UP/" direct "$n")"
    proxied="$(echo_p50 "ws://$PROXY/echo" proxied "$n")"
    ratio="$(python3 -c "print(f'{$proxied / $direct:.2f}')")"
    ratios+=("$ratio")
    echo "$n socket(s), pair $i: direct p50 ${direct} µs, proxied p50 ${proxied} µs, ratio $ratio"
  done
  python3 -c "import statistics,sys; print('$n socket(s): median ratio proxied/direct:', statistics.median(map(float, sys.argv[1:])))" "${ratios[@]}"
  stop_pair
done

echo "== memory: $HOLD idle proxied connections" >&2
start_pair
taskset -c 1 "$BENCH" hold --url "ws://$PROXY/echo" --hmac-secret="$SECRET" --users 1000 \
  --server-pid "$PROXY_PID" --connections "$HOLD" --label proxied-hold 2> "$WORK/hold.log" |
  tail -n 1 | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
kib, before, after = r["kib_per_conn"], r["rss_before_kib"], r["rss_after_kib"]
held = r["all_held_at_reading"]
print(f"wsauth: {kib} KiB per proxied connection (both sockets), "
      f"RSS {before} -> {after} KiB, all held: {held}")'
stop_pair
