#!/usr/bin/env bash
# Load and fault scenarios against the wsauth server:
# floods from one address, restart under load (SIGTERM and SIGKILL),
# backend faults (database locked, disk full) and the soak. The server runs
# on CPU 0, the generator on CPU 1, everything on loopback. One JSON line
# per scenario goes to $OUT/results.jsonl, server logs to $OUT/*.log.
#
#   bench/load.sh                      # flood restart faults (about 12 minutes)
#   bench/load.sh soak                 # the 10-minute soak with 15,000 sockets
#   bench/load.sh flood faults         # any subset, in order
#
# Environment (defaults in brackets):
#   LOAD_OUT           output folder [bench/results/load-<UTC time>]
#   LOAD_SOAK_SECS     soak duration [600]
#   LOAD_SOAK_SOCKETS  soak sockets [15000]
#   LOAD_RESTART_SOCKETS  sockets open at the signal [10000]
#   LOAD_FLOOD_SECS    seconds of each flood measurement (twice: unloaded, loaded) [10]
#   LOAD_REPS          repetitions of each flood [3]
#   LOAD_QUIET_WAIT    seconds to wait for an idle machine before each scenario [120]
#   CARGO_TARGET_DIR   where cargo builds [target]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${LOAD_OUT:-bench/results/load-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
SERVER="$TARGET_DIR/release/wsauth"
BENCH="$TARGET_DIR/release/wsauth-bench"
SECRET="load-scenario-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ADMIN_KEY="load-scenario-admin-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export WSAUTH_BENCH_HMAC_SECRET="$SECRET" WSAUTH_BENCH_ADMIN_API_KEY="$ADMIN_KEY"
SCENARIOS=("${@:-flood restart faults}")
# shellcheck disable=SC2206
SCENARIOS=(${SCENARIOS[*]})

cargo build --release -p wsauth-server -p wsauth-bench --bins >&2
echo "open files: $(ulimit -n) (server and generator each need one per socket)" >&2

SERVER_PID=""
PORT=""
WORK="$(mktemp -d)"
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
  mountpoint -q "$WORK/disk" 2>/dev/null && umount -l "$WORK/disk" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server NAME DATA_DIR [PORT] [ENV=VALUE ...]: starts wsauth on CPU 0
# and sets SERVER_PID and PORT.
start_server() {
  local name="$1" data="$2" port="${3:-0}"
  shift 3 || shift $#
  local log="$OUT/$name.log"
  env WSAUTH_HMAC_SECRET="$SECRET" WSAUTH_ADMIN_API_KEY="$ADMIN_KEY" WSAUTH_LOG=warn "$@" \
    taskset -c 0 "$SERVER" serve --listen "127.0.0.1:$port" --data-dir "$data" \
    > "$WORK/$name.stdout" 2>> "$log" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$WORK/$name.stdout" 2>/dev/null; then
      PORT="$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/$name.stdout" | head -1)"
      return 0
    fi
    sleep 0.05
  done
  echo "the server did not start; see $log" >&2
  exit 1
}

stop_server() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

# Waits (at most LOAD_QUIET_WAIT s) until the machine is under 10% busy,
# not counting work at a positive nice value (it yields to these runs).
wait_quiet() {
  python3 - "${LOAD_QUIET_WAIT:-120}" << 'PY' >&2 || true
import sys, time
def sample():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    # user nice system idle iowait irq softirq steal
    return v[0] + v[2] + v[5] + v[6] + v[7], v[1], sum(v)
limit = time.time() + float(sys.argv[1])
while True:
    b0, n0, t0 = sample(); time.sleep(1); b1, n1, t1 = sample()
    busy = 100.0 * (b1 - b0) / max(1, t1 - t0)
    niced = 100.0 * (n1 - n0) / max(1, t1 - t0)
    if busy < 10.0:
        print(f"machine {busy:.0f}% busy, {niced:.0f}% at a positive nice value")
        break
    if time.time() > limit:
        print(f"warning: machine still {busy:.0f}% busy; measuring anyway")
        break
PY
}

bench() {
  wait_quiet
  taskset -c 1 "$BENCH" "$@" --max-runtime 1500 | tee -a "$RESULTS"
}

# Benchmarks elsewhere switch these off; the scenarios that depend on
# them (floods, soak) keep the defaults.
NO_RATES=(WSAUTH_LIMITS_HANDSHAKE_RATE=0 WSAUTH_LIMITS_CONNECTION_RATE=0
  WSAUTH_LIMITS_PASSWORD_RATE=0 WSAUTH_LIMITS_REFRESH_RATE=0)

flood() {
  local secs="${LOAD_FLOOD_SECS:-10}"
  for attack in $(for _ in $(seq "${LOAD_REPS:-3}"); do echo bad-token slowloris deferred; done); do
    start_server "flood-$attack" "$WORK/flood-$attack"
    local url="ws://127.0.0.1:$PORT/ws" mode=query flooders=256
    if [[ "$attack" == deferred ]]; then url="$url/deferred"; mode=first-message; fi
    # More unfinished heads than the per-address connection cap (4096) holds.
    if [[ "$attack" == slowloris ]]; then flooders=6000; fi
    # The flood has CPU 1 to itself; the valid clients (200 handshakes/s)
    # share CPU 0 with the server rather than queue behind the flood.
    wait_quiet
    taskset -c 0,1 "$BENCH" --threads 1 --worker-cpu 0 flood --url "$url" --mode "$mode" \
      --attack "$attack" --flood-cpu 1 --server-pid "$SERVER_PID" \
      --users 256 --sources 16 --valid-rate 200 --flood-concurrency "$flooders" \
      --duration "$secs" --label "$attack" --max-runtime 1500 | tee -a "$RESULTS"
    stop_server
  done
}

# restart SIGNAL: sockets open, the signal, the server started again on the
# same port and data directory, revocations checked.
restart() {
  local signal="$1" data="$WORK/restart-$1"
  start_server "restart-$signal" "$data" 0 "${NO_RATES[@]}"
  local port="$PORT" pid="$SERVER_PID"
  bench restart --url "ws://127.0.0.1:$port/ws" --server-pid "$pid" --signal "$signal" \
    --connections "${LOAD_RESTART_SOCKETS:-10000}" --users 1250 --shutdown-timeout 5 \
    --label "$signal" &
  local generator=$!
  wait "$pid" 2>/dev/null || true
  SERVER_PID=""
  start_server "restart-$signal-again" "$data" "$port" "${NO_RATES[@]}"
  wait "$generator"
  stop_server
}

faults() {
  start_server faults-lock "$WORK/faults-lock" 0 "${NO_RATES[@]}"
  bench faults --url "ws://127.0.0.1:$PORT/ws" --fault lock \
    --database "$WORK/faults-lock/wsauth.db" --phases 5 15 10 --label lock
  stop_server
  mkdir -p "$WORK/disk"
  if mount -t tmpfs -o size=64m,mode=0700 tmpfs "$WORK/disk" 2>/dev/null; then
    start_server faults-full "$WORK/disk/data" 0 "${NO_RATES[@]}"
    bench faults --url "ws://127.0.0.1:$PORT/ws" --fault full --fill-dir "$WORK/disk" \
      --database "$WORK/disk/data/wsauth.db" \
      --phases 5 15 10 --label full
    stop_server
    umount -l "$WORK/disk"
  else
    echo "skipping the full-disk fault: cannot mount a tmpfs here" >&2
  fi
}

soak() {
  start_server soak "$WORK/soak"
  echo "server open-file limit: $(awk '/Max open files/ {print $4}' "/proc/$SERVER_PID/limits")" >&2
  bench soak --url "ws://127.0.0.1:$PORT/ws" --server-pid "$SERVER_PID" \
    --connections "${LOAD_SOAK_SOCKETS:-15000}" --users 1875 --sources 64 \
    --duration "${LOAD_SOAK_SECS:-600}" --timeout-ms 30000
  stop_server
}

for scenario in "${SCENARIOS[@]}"; do
  case "$scenario" in
    flood) flood ;;
    restart) restart term; restart kill ;;
    faults) faults ;;
    soak) soak ;;
    *) echo "unknown scenario $scenario (flood, restart, faults, soak)" >&2; exit 2 ;;
  esac
done
echo "results: $RESULTS" >&2
