#!/usr/bin/env bash
# Builds everything in release mode, then measures each server pinned to CPU 0
# with the load generator pinned to CPU 1: handshakes, echo round trips,
# memory per held connection, and for wsauth also every credential mode,
# revocation and expiry. Each measurement runs BENCH_REPS times (>= 3); the
# medians and the ratios between servers are printed at the end.
#
#   bench/run.sh            # full run (about 20 minutes with wsauth)
#   bench/run.sh --quick    # one short repetition of each, to check the setup
#   bench/run.sh --summarize bench/results/<run>   # print a finished run's summary again
#
# Environment (defaults in brackets):
#   BENCH_SERVERS     servers to measure ["baseline node seed wsauth"]
#   BENCH_REPS        repetitions per measurement [3]
#   BENCH_DURATION    seconds per throughput/echo measurement [10]
#   BENCH_CONCURRENCY handshakes in flight [32]
#   BENCH_HOLD        connections held for the memory measurement [15000]
#   BENCH_ECHO_CONNS  sockets in the echo measurement [16]
#   BENCH_OUT         output folder [bench/results/<UTC time>]
#   BENCH_QUIET_WAIT  seconds to wait for an idle machine before each step [120]
#   CARGO_TARGET_DIR  where cargo builds [target]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CALLER_PWD="$PWD"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export CARGO_TARGET_DIR="$TARGET_DIR"

# ---------------------------------------------------------------- summary
summarize() {
  python3 - "$1" "${2:-}" << 'PY'
import json, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
wsauth_status = sys.argv[2]
groups = defaultdict(list)
for r in rows:
    groups[(r["bench"], r["label"], r["mode"])].append(r)

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def dig(r, *path):
    for p in path:
        if not isinstance(r, dict):
            return None
        r = r.get(p)
    return r

def fmt(v, unit="", digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}{unit}"

def ms(rs, *path, digits=2):
    v = med([dig(x, *path) for x in rs])
    return fmt(None if v is None else v / 1000, "", digits)

order = ["baseline", "node", "seed", "wsauth"]
labels = [l for l in order if any(k[1] == l for k in groups)]

print("# Results (medians)\n")
print("| server | mode | handshakes/s | p50 ms | p99 ms | server core us/handshake | generator-bound runs | n |")
print("|---|---|---|---|---|---|---|---|")
rate = {}
cost = {}
bound = {}
for (bench, label, mode), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]) if kv[0][1] in order else 9, kv[0][2])):
    if bench != "handshake":
        continue
    r = med([x["rate_per_s"] for x in rs])
    rate[(label, mode)] = r
    sat = sum(1 for x in rs if x.get("client_saturated"))
    # Busy time of the server's core (softirq included) per handshake.
    c = med([1e4 * x["server_core_busy_pct"] / x["rate_per_s"] for x in rs
             if x.get("server_core_busy_pct") is not None and x.get("rate_per_s")])
    cost[(label, mode)] = c
    bound[(label, mode)] = sat * 2 > len(rs)
    print(f"| {label} | {mode} | {fmt(r)} | {ms(rs, 'latency_us', 'p50')} | "
          f"{ms(rs, 'latency_us', 'p99')} | {fmt(c)} | {sat}/{len(rs)} | {len(rs)} |")

print("\n| server | echo round trip p50 ms | p99 ms | echoes/s | n |")
print("|---|---|---|---|---|")
for label in labels:
    rs = groups.get(("echo", label, "query"), [])
    if not rs:
        continue
    print(f"| {label} | {ms(rs, 'rtt_us', 'p50', digits=3)} | {ms(rs, 'rtt_us', 'p99', digits=3)} | "
          f"{fmt(med([x['rate_per_s'] for x in rs]))} | {len(rs)} |")

print("\n| server | KiB per held connection | held | still open after hold | n |")
print("|---|---|---|---|---|")
kib = {}
for label in labels:
    rs = groups.get(("hold", label, "query"), [])
    if not rs:
        continue
    alive = med([x["alive_after_hold"] for x in rs])
    opened = med([x["opened"] for x in rs])
    if all(x.get("all_held_at_reading") for x in rs):
        kib[label] = med([x["kib_per_conn"] for x in rs])
        shown = fmt(kib[label], "", 2)
    else:
        shown = "cannot hold (the server closed the sockets)"
    print(f"| {label} | {shown} | {fmt(opened)} | {fmt(alive)} | {len(rs)} |")

for bench, key, title in [
    ("revoke", "close_after_logout_us", "logout -> 4003 close"),
    ("expiry", "late_after_exp_us", "exp -> 4001 close"),
]:
    rs = [x for (b, l, m), v in groups.items() if b == bench for x in v]
    if rs:
        print(f"\n{title}: p50 {ms(rs, key, 'p50', digits=1)} ms, p99 {ms(rs, key, 'p99', digits=1)} ms, "
              f"max {ms(rs, key, 'max', digits=1)} ms (median of {len(rs)} runs)")

print("\n# Ratios\n")
if ("wsauth", "query") in rate:
    w = rate[("wsauth", "query")]
    for peer in ["baseline", "node", "seed"]:
        if rate.get((peer, "query")):
            note = ""
            if bound.get(("wsauth", "query")) and bound.get((peer, "query")):
                note = " (both generator-bound: compare the server's core time instead)"
            print(f"- handshakes/s, wsauth vs {peer}: {w / rate[(peer, 'query')]:.2f}x{note}")
    for peer in ["baseline", "node", "seed"]:
        if cost.get((peer, "query")) and cost.get(("wsauth", "query")):
            print(f"- server core time per handshake, wsauth vs {peer}: "
                  f"{cost[('wsauth', 'query')] / cost[(peer, 'query')]:.2f}x")
    for peer in ["baseline", "node"]:
        if kib.get(peer) and kib.get("wsauth") is not None:
            print(f"- KiB per connection, wsauth vs {peer}: {kib['wsauth'] / kib[peer]:.2f}x")
else:
    print(f"- wsauth: {wsauth_status}")
    b = rate.get(("baseline", "query"))
    for peer in ["node", "seed"]:
        if b and rate.get((peer, "query")):
            print(f"- handshakes/s, baseline vs {peer}: {b / rate[(peer, 'query')]:.2f}x")
PY
}

if [[ "${1:-}" == "--summarize" ]]; then
  dir="${2:?give a results folder}"
  [[ "$dir" == /* ]] || dir="$CALLER_PWD/$dir"
  summarize "$dir/results.jsonl" "${3:-}"
  exit 0
fi

SERVERS="${BENCH_SERVERS:-baseline node seed wsauth}"
REPS="${BENCH_REPS:-3}"
DURATION="${BENCH_DURATION:-10}"
CONCURRENCY="${BENCH_CONCURRENCY:-32}"
HOLD="${BENCH_HOLD:-15000}"
ECHO_CONNS="${BENCH_ECHO_CONNS:-16}"
QUIET_WAIT="${BENCH_QUIET_WAIT:-120}"
if [[ "${1:-}" == "--quick" ]]; then
  REPS=1 DURATION=3 HOLD=2000
fi
OUT="${BENCH_OUT:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
LOG="$OUT/run.log"
: > "$RESULTS"
SECRET="${BENCH_HMAC_SECRET:-$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')}"

if [[ "$(nproc)" -ge 2 ]]; then
  PIN_SERVER=(taskset -c 0)
  PIN_CLIENT=(taskset -c 1)
else
  echo "run.sh: fewer than 2 CPUs: server and load generator are not pinned apart" >&2
  PIN_SERVER=()
  PIN_CLIENT=()
fi

log() { echo "== $*" | tee -a "$LOG" >&2; }

# ---------------------------------------------------------------- build
log "building (release) into $TARGET_DIR"
cargo build --release -p wsauth-bench --bins
BENCH="$TARGET_DIR/release/wsauth-bench"
BASELINE="$TARGET_DIR/release/bench-baseline"
WSAUTH="$TARGET_DIR/release/wsauth"
WSAUTH_STATUS="not requested"
if [[ " $SERVERS " == *" wsauth "* ]]; then
  if cargo build --release -p wsauth-server && "$WSAUTH" --help > /dev/null 2>&1; then
    WSAUTH_STATUS="built"
  else
    WSAUTH_STATUS="pending (the server does not build or run yet)"
    SERVERS="${SERVERS//wsauth/}"
  fi
  log "wsauth server: $WSAUTH_STATUS"
fi
if [[ " $SERVERS " == *" node "* ]]; then
  if [[ ! -d bench/node/node_modules ]]; then
    (cd bench/node && npm ci --no-audit --no-fund)
  fi
fi
if [[ " $SERVERS " == *" seed "* ]]; then
  bench/seed.sh --setup
fi

# ---------------------------------------------------------------- servers
SERVER_PID=""
SERVER_ADDR=""
SERVER_DATA=""

start_server() {
  local name="$1" out="$OUT/$1.$RANDOM.out"
  case "$name" in
    baseline)
      BENCH_HMAC_SECRET="$SECRET" "${PIN_SERVER[@]}" "$BASELINE" --listen 127.0.0.1:0 > "$out" 2>&1 &
      ;;
    node)
      BENCH_HMAC_SECRET="$SECRET" "${PIN_SERVER[@]}" node bench/node/server.js --listen 127.0.0.1:0 > "$out" 2>&1 &
      ;;
    seed)
      SEED_JWT_SECRET="$SECRET" "${PIN_SERVER[@]}" bench/seed.sh > "$out" 2>&1 &
      ;;
    wsauth)
      # The per-address handshake, connection and password rates and the
      # per-socket message rate are switched off (one host with 16 source addresses would otherwise be
      # held to 800 handshakes/s), and logging is reduced to warnings, as the
      # peers neither limit nor log.
      SERVER_DATA="$(mktemp -d)"
      WSAUTH_HMAC_SECRET="$SECRET" \
        WSAUTH_LOG="${BENCH_WSAUTH_LOG:-warn}" \
        WSAUTH_LIMITS_HANDSHAKE_RATE="${BENCH_WSAUTH_HANDSHAKE_RATE:-0}" \
        WSAUTH_LIMITS_CONNECTION_RATE="${BENCH_WSAUTH_CONNECTION_RATE:-0}" \
        WSAUTH_LIMITS_MESSAGE_RATE="${BENCH_WSAUTH_MESSAGE_RATE:-0}" \
        WSAUTH_LIMITS_PASSWORD_RATE="${BENCH_WSAUTH_PASSWORD_RATE:-0}" \
        "${PIN_SERVER[@]}" "$WSAUTH" serve \
        --listen 127.0.0.1:0 --data-dir "$SERVER_DATA" > "$out" 2>&1 &
      ;;
    *) echo "unknown server $name" >&2; return 1 ;;
  esac
  SERVER_PID=$!
  SERVER_ADDR=""
  for _ in $(seq 600); do
    SERVER_ADDR="$(grep -om1 'listening on http://127\.0\.0\.1:[0-9]*' "$out" | sed 's#.*http://##' || true)"
    [[ -n "$SERVER_ADDR" ]] && break
    kill -0 "$SERVER_PID" 2> /dev/null || break
    sleep 0.1
  done
  if [[ -z "$SERVER_ADDR" ]]; then
    echo "run.sh: $name did not start; its output:" >&2
    cat "$out" >&2
    stop_server
    return 1
  fi
  log "$name listening on $SERVER_ADDR (pid $SERVER_PID)"
}

stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2> /dev/null; then
    kill "$SERVER_PID" 2> /dev/null || true
    for _ in $(seq 100); do
      kill -0 "$SERVER_PID" 2> /dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVER_PID" 2> /dev/null || true
  fi
  wait "$SERVER_PID" 2> /dev/null || true
  SERVER_PID=""
  if [[ -n "$SERVER_DATA" ]]; then
    rm -rf "$SERVER_DATA"
    SERVER_DATA=""
  fi
}
trap stop_server EXIT

# Waits (bounded) until the machine is idle, so other work does not skew a step.
wait_quiet() {
  python3 - "$QUIET_WAIT" << 'PY' 2>&1 | tee -a "$LOG" >&2 || true
import sys, time
def sample():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v) - v[3] - v[4], sum(v)
limit = time.time() + float(sys.argv[1])
while True:
    b0, t0 = sample(); time.sleep(1); b1, t1 = sample()
    busy = 100.0 * (b1 - b0) / max(1, t1 - t0)
    if busy < 10.0:
        break
    if time.time() > limit:
        print(f"warning: machine still {busy:.0f}% busy; measuring anyway")
        break
PY
}

# Runs the load generator pinned; JSON lines go to the results file.
gen() {
  "${PIN_CLIENT[@]}" "$BENCH" "$@" --server-pid "$SERVER_PID" --max-runtime 900 \
    >> "$RESULTS" 2> >(tee -a "$LOG" >&2)
}

measure_server() {
  local name="$1" url
  local expect=()
  [[ "$name" == seed ]] && expect=(--expect-text "Successfully Login!")
  start_server "$name" || return 0
  url="ws://$SERVER_ADDR/ws"
  wait_quiet
  log "$name: warm-up"
  "${PIN_CLIENT[@]}" "$BENCH" handshake --url "$url" --hmac-secret="$SECRET" "${expect[@]}" \
    --users 64 --duration 3 --warmup 0 --label "warmup" > /dev/null 2>> "$LOG" || true
  local modes=(query)
  [[ "$name" == wsauth ]] && modes=(query header subprotocol cookie ticket)
  for mode in "${modes[@]}"; do
    for rep in $(seq "$REPS"); do
      wait_quiet
      log "$name: handshake $mode ($rep/$REPS)"
      gen handshake --url "$url" --mode "$mode" --hmac-secret="$SECRET" "${expect[@]}" \
        --users 64 --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup 1 \
        --label "$name" || true
    done
  done
  if [[ "$name" != seed ]]; then
    for rep in $(seq "$REPS"); do
      wait_quiet
      log "$name: echo ($rep/$REPS)"
      gen echo --url "$url" --hmac-secret="$SECRET" --connections "$ECHO_CONNS" \
        --duration "$DURATION" --label "$name" || true
    done
  fi
  if [[ "$name" == wsauth ]]; then
    for rep in $(seq "$REPS"); do
      wait_quiet
      log "$name: revoke ($rep/$REPS)"
      # 10,000 other sockets stay open (8 per user, under the cap of 16).
      gen revoke --url "$url" --hmac-secret="$SECRET" --users 1250 --idle 10000 --repeat 50 \
        --duration 300 --label "$name" || true
      log "$name: expiry ($rep/$REPS)"
      # 10,000 sockets whose tokens expire over one minute.
      gen expiry --url "$url" --hmac-secret="$SECRET" --users 1250 --connections 10000 \
        --ttl-min 15 --ttl-spread 60 --label "$name" || true
    done
  fi
  stop_server
  for rep in $(seq "$REPS"); do
    start_server "$name" || continue
    wait_quiet
    log "$name: hold $HOLD ($rep/$REPS)"
    # Eight sockets per user: under wsauth's default of 16 live sockets per user.
    gen hold --url "ws://$SERVER_ADDR/ws" --hmac-secret="$SECRET" "${expect[@]}" \
      --users $(((HOLD + 7) / 8)) --connections "$HOLD" --concurrency 64 --hold-secs 5 \
      --duration 300 --label "$name" || true
    stop_server
  done
}

for name in $SERVERS; do
  measure_server "$name"
done

summarize "$RESULTS" "$WSAUTH_STATUS" | tee "$OUT/summary.md"
log "results: $RESULTS, summary: $OUT/summary.md"
