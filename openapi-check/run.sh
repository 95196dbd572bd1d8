#!/usr/bin/env bash
# OpenAPI conformance: schemathesis against the live server, on loopback.
# Starts `wsauth serve` on a free port with a throwaway data directory, logs
# users in for the security schemes, and runs schemathesis on
# /openapi.json (check.py). Prints "N passed, M failed"; exits non-zero on
# any failure. The whole run is bounded (about three minutes at most).
#   bash openapi-check/run.sh
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x .venv/bin/schemathesis ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

target="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}"
(cd .. && cargo build --quiet -p wsauth-server --bin wsauth)

data="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

# 40 bytes; passed on the command line, so only ever a throwaway key.
admin_key="$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(20))')"
export WSAUTH_ADMIN_KEY="$admin_key"

# Password attempts unlimited: schemathesis logs in far faster than 5/s.
WSAUTH_LIMITS_PASSWORD_RATE=0 "$target/debug/wsauth" serve \
  --listen 127.0.0.1:0 --data-dir "$data/db" --admin-api-key "$admin_key" \
  >"$data/stdout" 2>"$data/server.log" &
server_pid=$!

base=""
for _ in $(seq 1 100); do
  base="$(sed -n 's/^wsauth listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$data/stdout")"
  [ -n "$base" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$data/server.log" >&2
    echo "the server did not start" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "the server did not say where it listens" >&2
  exit 1
fi

status=0
.venv/bin/python check.py "$base" "$data" "$@" || status=$?
if grep -q "panicked" "$data/server.log"; then
  grep -B2 -A10 "panicked" "$data/server.log" >&2
  echo "the server panicked" >&2
  status=1
fi
exit "$status"
