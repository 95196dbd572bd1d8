#!/usr/bin/env bash
# Runs the minimal baseline server (tokio-tungstenite + HS256 check of ?token=
# in the handshake callback, 4 KiB read buffer), building it first if needed.
#
#   BENCH_HMAC_SECRET=... bench/baseline.sh [--listen 127.0.0.1:0]
#
# Prints `bench-baseline listening on http://127.0.0.1:PORT` when ready.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/bench-baseline"
if [[ ! -x "$BIN" ]]; then
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release -p wsauth-bench --bin bench-baseline >&2)
fi
: "${BENCH_HMAC_SECRET:?set BENCH_HMAC_SECRET to the HS256 secret}"
export BENCH_HMAC_SECRET
case " $* " in
  *" --listen "*) exec "$BIN" "$@" ;;
  *) exec "$BIN" --listen 127.0.0.1:0 "$@" ;;
esac
