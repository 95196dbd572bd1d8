#!/usr/bin/env bash
# Runs the Autobahn TestSuite cases (through kosoku, no Docker) against the
# library's echo example, and fails on any case that is not OK, NON-STRICT or
# INFORMATIONAL. Compression (12.*, 13.*) is not offered, so those cases are
# left out. Usage: bash conformance/run.sh [CASE ...]   (e.g. '9.*'; default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

KOSOKU_VERSION=0.1.0
RUN_LIMIT_SECS=240   # the cases take about 10 s here; this bounds a hang
PARALLELISM=2
REPORTS=conformance/reports

log() { printf '%s\n' "$*" >&2; }

if [ ! -x conformance/.venv/bin/kosoku ]; then
  log "creating conformance/.venv with kosoku $KOSOKU_VERSION"
  python3 -m venv conformance/.venv
  conformance/.venv/bin/pip install --quiet "kosoku==$KOSOKU_VERSION"
fi

log "building the echo example (release)"
cargo build --quiet --release -p wsauth --example echo
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
secret=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
# 16 MiB: the largest message the cases send; the message rate is off
# because the cases send thousands of messages back to back.
ECHO_HMAC_SECRET=$secret "$target_dir/release/examples/echo" --listen 127.0.0.1:0 \
  --max-message-size 16777216 --message-rate 0 >"$REPORTS/echo.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT

addr=""
for _ in $(seq 1 100); do
  addr=$(sed -n 's#^listening on http://##p' "$REPORTS/echo.log")
  [ -n "$addr" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$REPORTS/echo.log" >&2; exit 1; }
  sleep 0.1
done
if [ -z "$addr" ]; then
  log "the echo example did not start within 10 s"
  exit 1
fi

token=$(python3 conformance/mint_token.py "$secret")
selection=(-x '12.*' -x '13.*')
for case in "$@"; do selection+=(-i "$case"); done

log "running the Autobahn cases against ws://$addr/ws (at most ${RUN_LIMIT_SECS} s)"
status=0
timeout --kill-after=10 "$RUN_LIMIT_SECS" conformance/.venv/bin/kosoku \
  -p "$PARALLELISM" "${selection[@]}" -o "$REPORTS" "ws://$addr/ws?token=$token" \
  >"$REPORTS/kosoku.log" 2>&1 || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  log "kosoku did not finish within ${RUN_LIMIT_SECS} s (log: $REPORTS/kosoku.log)"
  exit 1
fi
# kosoku exits 1 when a case fails; the report below is the verdict.
python3 conformance/report.py "$REPORTS/index.json"
