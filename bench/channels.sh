#!/usr/bin/env bash
# Channel revocation latency on one node: a release server with a rule
# granting `room:*`, OTHERS sockets of other users each subscribed to one of
# 100 rooms, and a victim whose grant is created, subscribed to and deleted
# through the admin API REPEAT times; prints the time from the admin call to
# the victim's `unsubscribed` frame. Server on CPU 0, generator on CPU 1.
#
#   bench/channels.sh
#
# Environment: OTHERS [10000], REPEAT [200], CARGO_TARGET_DIR [target].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OTHERS="${OTHERS:-10000}"
REPEAT="${REPEAT:-200}"
cargo build --release -q -p wsauth-bench -p wsauth-server --bins
BENCH="$CARGO_TARGET_DIR/release/wsauth-bench"
SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
data="$(mktemp -d)"
trap 'kill "${pid:-0}" 2> /dev/null || true; rm -rf "$data"' EXIT
printf '[[channels.rules]]\npattern = "room:*"\nactions = ["subscribe"]\n' > "$data/wsauth.toml"
WSAUTH_CONFIG="$data/wsauth.toml" WSAUTH_ADMIN_API_KEY="$KEY" WSAUTH_HMAC_SECRET="$SECRET" \
  WSAUTH_LOG=warn WSAUTH_LIMITS_HANDSHAKE_RATE=0 WSAUTH_LIMITS_CONNECTION_RATE=0 \
  WSAUTH_LIMITS_PASSWORD_RATE=0 WSAUTH_LIMITS_MAX_CONNECTIONS=20000 \
  WSAUTH_LIMITS_MAX_CONNECTIONS_PER_ADDRESS=20000 \
  taskset -c 0 "$CARGO_TARGET_DIR/release/wsauth" serve --listen 127.0.0.1:0 \
  --data-dir "$data/data" > "$data/server.log" 2>&1 &
pid=$!
addr="$(listening_address "$data/server.log")"
# 16 sockets per user at most (limits.max_connections_per_user).
WSAUTH_BENCH_ADMIN_KEY="$KEY" taskset -c 1 "$BENCH" channel-revoke --url "ws://$addr/ws" \
  --hmac-secret="$SECRET" --users $(((OTHERS + 15) / 16)) --others "$OTHERS" \
  --repeat "$REPEAT" --duration 600 --server-pid "$pid"
