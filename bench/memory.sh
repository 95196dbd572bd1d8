#!/usr/bin/env bash
# Memory per idle authenticated connection, side by side: the bare stack
# (bench-baseline, 4 KiB read buffer) and wsauth with its defaults, each a
# fresh server holding HOLD sockets (1 in 8 per subject), alternating ROUNDS
# times in one session. Server on CPU 0, generator on CPU 1. Prints each
# run's KiB per connection, the medians, and wsauth's difference in bytes
# per connection (the median of the rounds' differences).
#
#   bench/memory.sh
#   WSAUTH_ENV="WSAUTH_LIMITS_READ_BUFFER_SIZE=4096" bench/memory.sh   # a variant
#   BEFORE=path/to/wsauth bench/memory.sh   # another build of wsauth (e.g. of
#                                           # an earlier commit) instead of the
#                                           # bare stack, against this tree's
#   WSAUTH_ENV="MIMALLOC_ALLOW_THP=0" BEFORE=... bench/memory.sh
#       # without transparent huge pages, whose 2 MiB steps in RSS (about
#       # 140 bytes a socket at 15,000) hide differences of tens of bytes
#
# Environment: ROUNDS [3], HOLD [15000], WSAUTH_ENV (extra settings for
# wsauth, space-separated NAME=VALUE), BEFORE, CARGO_TARGET_DIR [target].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ROUNDS="${ROUNDS:-3}"
HOLD="${HOLD:-15000}"
read -r -a EXTRA <<< "${WSAUTH_ENV:-}"
cargo build --release -q -p wsauth-bench -p wsauth-server --bins
BENCH="$CARGO_TARGET_DIR/release/wsauth-bench"
SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

hold() { # label
  local data log pid addr
  data="$(mktemp -d)"; log="$data/server.log"
  if [[ "$1" == baseline ]]; then
    BENCH_HMAC_SECRET="$SECRET" taskset -c 0 "$CARGO_TARGET_DIR/release/bench-baseline" \
      --listen 127.0.0.1:0 > "$log" 2>&1 &
  else
    local binary="$CARGO_TARGET_DIR/release/wsauth"
    if [[ "$1" == before ]]; then binary="$BEFORE"; fi
    env "${EXTRA[@]}" WSAUTH_HMAC_SECRET="$SECRET" WSAUTH_LOG=warn WSAUTH_LIMITS_HANDSHAKE_RATE=0 \
      WSAUTH_LIMITS_CONNECTION_RATE=0 \
      taskset -c 0 "$binary" serve --listen 127.0.0.1:0 \
      --data-dir "$data" > "$log" 2>&1 &
  fi
  pid=$!
  addr="$(listening_address "$log")"
  taskset -c 1 "$BENCH" hold --url "ws://$addr/ws" --hmac-secret="$SECRET" --label "$1" \
    --users $(((HOLD + 7) / 8)) --connections "$HOLD" --concurrency 64 --hold-secs 2 \
    --server-pid "$pid" 2> "$data/bench.log" | tail -n 1 >> "$OUT/results.jsonl" \
    || cat "$data/bench.log" >&2
  kill "$pid"; wait "$pid" 2> /dev/null || true
  rm -rf "$data"
}

FIRST=baseline
if [[ -n "${BEFORE:-}" ]]; then FIRST=before; fi
for _ in $(seq "$ROUNDS"); do
  hold "$FIRST"
  hold wsauth
done
python3 - "$OUT/results.jsonl" "$FIRST" << 'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for label in (sys.argv[2], "wsauth"):
    rs = [r for r in rows if r["label"] == label]
    kib = [r["kib_per_conn"] for r in rs]
    print(f"{label:9} KiB per idle connection: " + ", ".join(f"{k:.2f}" for k in kib)
          + f"  median {statistics.median(kib):.2f}"
          + f"  (opened {min(r['opened'] for r in rs)}, still open {min(r['alive_after_hold'] for r in rs)})")
def per_conn(r):  # bytes of server RSS per held socket
    return (r["rss_after_kib"] - r["rss_before_kib"]) * 1024 / max(r["opened"], 1)
pairs = list(zip([r for r in rows if r["label"] == sys.argv[2]], [r for r in rows if r["label"] == "wsauth"]))
if pairs:
    d = [per_conn(w) - per_conn(f) for f, w in pairs]
    print(f"wsauth over {sys.argv[2]}, bytes per connection, per round: " + ", ".join(f"{x:+.0f}" for x in d)
          + f"  median {statistics.median(d):+.0f}")
PY
