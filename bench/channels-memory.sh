#!/usr/bin/env bash
# What a channel subscription costs in memory: wsauth holding HOLD idle
# authenticated sockets, four ways, each run a fresh server with the same
# channel rules, alternating ROUNDS times in one session:
#   none      the sockets send nothing after the welcome
#   shared    every socket subscribed to one channel (room:1)
#   personal  each socket subscribed to its own user:<name>:inbox
#   joined    each socket sent one channel command (an unsubscribe from a
#             channel it does not hold) and holds no subscription: what
#             joining the node's channels costs before any subscription
# Server on CPU 0, generator on CPU 1. Prints each run's server RSS and
# bytes per connection, the medians, and each kind's cost per socket over
# `none` (the median of the rounds' differences).
#
# The server runs with MIMALLOC_ALLOW_THP=0: with transparent huge pages
# (mimalloc asks for them on its arenas) its RSS grows in 2 MiB steps, about
# 200 bytes per socket at HOLD=10000, coarser than what is measured here;
# without them, in 4 KiB pages. MIMALLOC_ALLOW_THP=1 measures as deployed.
#
#   bench/channels-memory.sh
#   HOLD=10000 ROUNDS=3 bench/channels-memory.sh
#   USERS=1250 bench/channels-memory.sh   # 8 sockets per user (and per personal channel)
#
# Environment: ROUNDS [3], HOLD [10000], USERS [HOLD: one socket per user,
# so HOLD personal channels], MIMALLOC_ALLOW_THP [0], WSAUTH_ENV (extra
# settings for wsauth, space-separated NAME=VALUE), CARGO_TARGET_DIR [target].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
ROUNDS="${ROUNDS:-3}"
HOLD="${HOLD:-10000}"
USERS="${USERS:-$HOLD}"
THP="${MIMALLOC_ALLOW_THP:-0}"
read -r -a EXTRA <<< "${WSAUTH_ENV:-}"
cargo build --release -q -p wsauth-bench -p wsauth-server --bins
BENCH="$CARGO_TARGET_DIR/release/wsauth-bench"
SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
# The same rules for every run: only the sockets' subscriptions differ.
cat > "$OUT/channels.toml" << 'TOML'
[[channels.rules]]
pattern = "room:*"
actions = ["subscribe", "publish"]

[[channels.rules]]
pattern = "user:{sub}:>"
actions = ["subscribe"]
TOML

hold() { # label [--subscribe VALUE]
  local label="$1" data log pid addr
  shift
  data="$(mktemp -d)"; log="$data/server.log"
  env MIMALLOC_ALLOW_THP="$THP" "${EXTRA[@]}" WSAUTH_CONFIG="$OUT/channels.toml" WSAUTH_HMAC_SECRET="$SECRET" \
    WSAUTH_LOG=warn WSAUTH_LIMITS_HANDSHAKE_RATE=0 WSAUTH_LIMITS_CONNECTION_RATE=0 \
    taskset -c 0 "$CARGO_TARGET_DIR/release/wsauth" serve --listen 127.0.0.1:0 \
    --data-dir "$data" > "$log" 2>&1 &
  pid=$!
  addr="$(listening_address "$log")"
  taskset -c 1 "$BENCH" hold --url "ws://$addr/ws" --hmac-secret="$SECRET" --label "$label" \
    --users "$USERS" --connections "$HOLD" --concurrency 64 --hold-secs 2 \
    --server-pid "$pid" "$@" 2> "$data/bench.log" | tail -n 1 >> "$OUT/results.jsonl" \
    || cat "$data/bench.log" >&2
  kill "$pid"; wait "$pid" 2> /dev/null || true
  rm -rf "$data"
}

for round in $(seq "$ROUNDS"); do
  hold none
  hold shared --subscribe shared:room:1
  hold personal --subscribe personal
  hold joined --subscribe joined
  echo "round $round of $ROUNDS done" >&2
done
python3 - "$OUT/results.jsonl" "$HOLD" "$USERS" "$THP" << 'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print(f"HOLD={sys.argv[2]} sockets over USERS={sys.argv[3]} users, MIMALLOC_ALLOW_THP={sys.argv[4]},"
      " each run a fresh server")
def per_conn(r):  # bytes of server RSS per held socket
    return (r["rss_after_kib"] - r["rss_before_kib"]) * 1024 / max(r["opened"], 1)
LABELS = ("none", "shared", "personal", "joined")
by = {label: [r for r in rows if r["label"] == label] for label in LABELS}
for r in rows:
    print(f"  run {r['label']:8} RSS {r['rss_before_kib']} -> {r['rss_after_kib']} KiB,"
          f" {r['opened']} held: {per_conn(r):.0f} bytes per connection")
for label, rs in by.items():
    if not rs:
        print(f"{label:8} no run finished"); continue
    b = [per_conn(r) for r in rs]
    print(f"{label:8} bytes per connection: " + ", ".join(f"{x:.0f}" for x in b)
          + f"  median {statistics.median(b):.0f} ({statistics.median(b) / 1024:.2f} KiB)"
          + f"  (opened {min(r['opened'] for r in rs)}, still open {min(r['alive_after_hold'] for r in rs)},"
          + f" errors {sum(sum(r['errors'].values()) if isinstance(r['errors'], dict) else 0 for r in rs)})")
for label in LABELS[1:]:
    pairs = list(zip(by["none"], by[label]))
    if not pairs:
        continue
    d = [per_conn(s) - per_conn(n) for n, s in pairs]
    print(f"{label:8} cost per socket over none, per round: " + ", ".join(f"{x:+.0f}" for x in d)
          + f"  median {statistics.median(d):+.0f} bytes")
PY
