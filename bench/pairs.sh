#!/usr/bin/env bash
# Paired handshake runs of two wsauth configurations in one session: a
# warm-up of each, then alternating pairs (A, B); prints each pair's rates and
# the median of the B/A rate ratios, with both cores' load so a run held
# back by the generator shows, and where each server's core time went per
# handshake (user, system, interrupts). Server on CPU 0, generator on CPU 1.
#
#   bench/pairs.sh metrics        # metrics off (A) against on (B, the default)
#   bench/pairs.sh cluster        # single-node defaults (A: SQLite, in-process
#                                 # state) against a cluster node (B: PostgreSQL
#                                 # and Redis on this machine)
#   bench/pairs.sh baseline       # the bare stack (A: bench-baseline, 4 KiB read
#                                 # buffer) against wsauth's defaults (B)
#   bench/pairs.sh axum           # the bare server on hyper and axum (A:
#                                 # bench-baseline --stack axum) against wsauth (B):
#                                 # what wsauth adds to the stack it is built on
#   bench/pairs.sh stacks         # the bare server on tungstenite (A) against the
#                                 # same on hyper and axum (B): what those cost
#   BEFORE=path/to/wsauth bench/pairs.sh before
#                                 # another build of wsauth (A, e.g. of an earlier
#                                 # commit) against this tree's (B), both on defaults
#
# Each run is COUNT handshakes (or DURATION seconds, whichever ends first).
# With RATE, handshakes start at that rate (open loop) instead of as fast as
# the servers answer: at a rate neither side saturates, the servers' core
# time per handshake is compared with the generator below saturation.
# With STEER=1, each packet's receive processing runs on its receiver's core
# (receive flow steering; needs root, restored on exit; see steer_receive in
# bench/lib.sh): the generator then stays below saturation at full rate, so
# the rate ratio is the servers', not the generator's.
# Environment: PAIRS [5], COUNT [20000], DURATION seconds per run [60], CONCURRENCY [64],
# RATE handshakes/s [0: closed loop], STEER [0],
# CARGO_TARGET_DIR [target]; for cluster: PAIRS_POSTGRES [postgres://postgres@127.0.0.1:5432]
# (a server where this user may create databases), PAIRS_REDIS [redis://127.0.0.1:6379].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PAIRS="${PAIRS:-5}"
COUNT="${COUNT:-20000}"
DURATION="${DURATION:-60}"
CONCURRENCY="${CONCURRENCY:-64}"
cleanup() {
  restore_receive
  if declare -F drop_database > /dev/null; then drop_database; fi
}
trap cleanup EXIT
case "${1:-}" in
  metrics) A_ENV=(WSAUTH_METRICS=false) B_ENV=(WSAUTH_METRICS=true) A=metrics-off B=metrics-on ;;
  cluster)
    # A fresh database and key prefix: the cluster node starts from nothing,
    # as the single node does from its fresh data directory.
    PG="${PAIRS_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
    DB="wsauth_pairs_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    psql "$PG/postgres" -qc "CREATE DATABASE $DB"
    drop_database() { psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; }
    A_ENV=(WSAUTH_METRICS=true)
    B_ENV=(WSAUTH_DATABASE_URL="$PG/$DB" WSAUTH_REDIS_URL="${PAIRS_REDIS:-redis://127.0.0.1:6379}"
      WSAUTH_REDIS_PREFIX="$DB:")
    A=single-node B=cluster-node ;;
  baseline) A_ENV=(STACK=tungstenite) B_ENV=(WSAUTH_METRICS=true) A=baseline B=wsauth ;;
  axum) A_ENV=(STACK=axum) B_ENV=(WSAUTH_METRICS=true) A=baseline-axum B=wsauth ;;
  stacks) A_ENV=(STACK=tungstenite) B_ENV=(STACK=axum) A=baseline B=baseline-axum ;;
  before)
    [[ -x "${BEFORE:-}" ]] || { echo "before: set BEFORE to a wsauth binary" >&2; exit 2; }
    A_ENV=(BIN="$BEFORE" WSAUTH_METRICS=true) B_ENV=(WSAUTH_METRICS=true) A=before B=wsauth ;;
  *) echo "usage: bench/pairs.sh metrics|cluster|baseline|axum|stacks|before" >&2; exit 2 ;;
esac
cargo build --release -q -p wsauth-bench -p wsauth-server --bins
if [[ "${STEER:-0}" == 1 ]]; then
  steer_receive 0
  echo "receive processing steered to each socket's core" >&2
fi
BENCH="$CARGO_TARGET_DIR/release/wsauth-bench"
WSAUTH="$CARGO_TARGET_DIR/release/wsauth"
BASELINE="$CARGO_TARGET_DIR/release/bench-baseline"
SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
OUT="$(mktemp -d)"

run() { # label env...
  local label="$1"; shift
  local data log pid addr server="$WSAUTH"
  data="$(mktemp -d)"; log="$data/server.log"
  if [[ "$1" == BIN=* ]]; then server="${1#BIN=}"; shift; fi
  if [[ "$1" == STACK=* ]]; then
    BENCH_HMAC_SECRET="$SECRET" taskset -c 0 "$BASELINE" --listen 127.0.0.1:0 --stack "${1#STACK=}" \
      > "$log" 2>&1 &
  else
    env "$@" WSAUTH_HMAC_SECRET="$SECRET" WSAUTH_LOG=warn WSAUTH_LIMITS_HANDSHAKE_RATE=0 \
    WSAUTH_LIMITS_MESSAGE_RATE=0 WSAUTH_LIMITS_CONNECTION_RATE=0 \
    WSAUTH_LIMITS_MAX_CONNECTIONS_PER_USER=100000 \
    taskset -c 0 "$server" serve --listen 127.0.0.1:0 --data-dir "$data" > "$log" 2>&1 &
  fi
  pid=$!
  addr="$(listening_address "$log")"
  taskset -c 1 "$BENCH" handshake --url "ws://$addr/ws" --hmac-secret="$SECRET" --users 64 \
    --concurrency "$CONCURRENCY" --count "$COUNT" --duration "$DURATION" --warmup 1 --rate "${RATE:-0}" --label "$label" \
    --server-pid "$pid" \
    2> "$data/bench.log" | tail -n 1 >> "$OUT/results.jsonl" || cat "$data/bench.log" >&2
  kill "$pid"; wait "$pid" 2> /dev/null || true
  rm -rf "$data"
}

run warmup-a "${A_ENV[@]}"; run warmup-b "${B_ENV[@]}"
for _ in $(seq "$PAIRS"); do
  run "$A" "${A_ENV[@]}"
  run "$B" "${B_ENV[@]}"
done
python3 - "$OUT/results.jsonl" "$A" "$B" << 'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
a = [r for r in rows if r["label"] == sys.argv[2]]
b = [r for r in rows if r["label"] == sys.argv[3]]
def rate(r): return r["rate_per_s"]
def busy(r, who):
    v = r.get(f"{who}_core_busy_pct")
    return "-" if v is None else f"{v:.0f}%"
def per_handshake(r, part):
    """µs of the server's core per handshake that `part` (busy, user, system, interrupt) took."""
    v = r.get(f"server_core_{part}_pct")
    return None if v is None or not rate(r) else v / 100 / rate(r) * 1e6
def cost(r): return per_handshake(r, "busy")
def split(r):
    parts = [per_handshake(r, k) for k in ("user", "system", "interrupt")]
    return None if None in parts else parts
def median_split(rows):
    splits = [s for s in map(split, rows) if s]
    if not splits:
        return "-"
    return ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in zip(("user", "system", "interrupts"), zip(*splits)))
ratios, costs = [], []
for x, y in zip(a, b):
    ratios.append(rate(y) / rate(x))
    if cost(x) and cost(y):
        costs.append(cost(x) / cost(y))
    print(f"{sys.argv[2]} {rate(x):7.0f}/s (server core {busy(x,'server')}, {cost(x) or 0:.1f} us each; generator core {busy(x,'client')})  "
          f"{sys.argv[3]} {rate(y):7.0f}/s (server core {busy(y,'server')}, {cost(y) or 0:.1f} us each; generator core {busy(y,'client')})  "
          f"rate ratio {rate(y)/rate(x):.3f}")
print(f"median rate ratio {sys.argv[3]}/{sys.argv[2]}: {statistics.median(ratios):.3f} over {len(ratios)} pairs")
for label, rows in ((sys.argv[2], a), (sys.argv[3], b)):
    print(f"{label}: server core per handshake, median µs: {median_split(rows)}")
if costs:
    print(f"median core-time ratio {sys.argv[2]}/{sys.argv[3]} (the rate ratio their capacities imply): {statistics.median(costs):.3f}")
PY
