#!/usr/bin/env bash
# Instructions the server spends per authenticated handshake, which the
# noise of a shared host does not move: callgrind around `wsauth serve`, the
# difference between a run of HIGH and a run of LOW handshakes (4 in flight,
# query mode, the welcome frame awaited) divided by HIGH - LOW, so that start
# and shutdown cancel out. Prints one line per binary.
#
#   bench/instructions.sh                      # this tree's release build
#   bench/instructions.sh path/to/wsauth ...   # other builds, in turn
#
# Environment: LOW [200], HIGH [1200], CARGO_TARGET_DIR [target].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOW="${LOW:-200}"
HIGH="${HIGH:-1200}"
command -v valgrind > /dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p wsauth-bench -p wsauth-server --bins
BENCH="$CARGO_TARGET_DIR/release/wsauth-bench"
SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
BINARIES=("$@")
if [[ ${#BINARIES[@]} -eq 0 ]]; then BINARIES=("$CARGO_TARGET_DIR/release/wsauth"); fi

# instructions BINARY COUNT: the server's total instructions for COUNT handshakes.
instructions() {
  local data log pid addr
  data="$(mktemp -d)"; log="$data/server.log"
  WSAUTH_HMAC_SECRET="$SECRET" WSAUTH_LOG=warn WSAUTH_LIMITS_HANDSHAKE_RATE=0 \
    WSAUTH_LIMITS_CONNECTION_RATE=0 WSAUTH_LIMITS_PASSWORD_RATE=0 \
    valgrind --tool=callgrind --callgrind-out-file="$data/callgrind.out" \
    "$1" serve --listen 127.0.0.1:0 --data-dir "$data/data" > "$log" 2>&1 &
  pid=$!
  addr="$(listening_address "$log")"
  "$BENCH" handshake --url "ws://$addr/ws" --hmac-secret="$SECRET" --count "$2" \
    --concurrency 4 --users 8 > /dev/null 2> "$data/bench.log" || cat "$data/bench.log" >&2
  kill -TERM "$pid"; wait "$pid" 2> /dev/null || true
  callgrind_annotate "$data/callgrind.out" 2> /dev/null \
    | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
  rm -rf "$data"
}

for binary in "${BINARIES[@]}"; do
  low="$(instructions "$binary" "$LOW")"
  high="$(instructions "$binary" "$HIGH")"
  echo "$binary: $(( (high - low) / (HIGH - LOW) )) instructions per handshake"
done
