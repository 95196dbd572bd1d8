#!/usr/bin/env bash
# Runs the seed (FastAPI + fastapi-jwt-auth under uvicorn, the query-token
# example kept in interop/seed_query.py) on 127.0.0.1, in the interop
# virtualenv (created on first use from interop/requirements.txt).
#
#   SEED_JWT_SECRET=... bench/seed.sh            # serve on a free port; prints
#                                                # "seed listening on http://127.0.0.1:PORT"
#   bench/seed.sh --setup                        # only create the virtualenv
#   SEED_LISTEN=127.0.0.1:8123 bench/seed.sh     # a fixed port
# Note that the seed accepts the WebSocket before it checks the token.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/interop/.venv"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import fastapi_jwt_auth, uvicorn, websockets' 2>/dev/null; then
  echo "seed.sh: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/interop/requirements.txt" >&2
fi

if [[ "${1:-}" == "--setup" ]]; then
  exit 0
fi

: "${SEED_JWT_SECRET:?set SEED_JWT_SECRET to the HS256 secret}"
export SEED_SECRET="$SEED_JWT_SECRET"
cd "$ROOT/interop"
exec "$VENV/bin/python" - "${SEED_LISTEN:-127.0.0.1:0}" <<'PY'
import socket, sys
import uvicorn
import seed_query

host, port = sys.argv[1].rsplit(":", 1)
if not host.startswith("127."):
    sys.exit("the seed is only served on loopback")
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((host, int(port)))
print(f"seed listening on http://{host}:{sock.getsockname()[1]}", flush=True)
config = uvicorn.Config(seed_query.app, log_level="warning", access_log=False)
uvicorn.Server(config).run(sockets=[sock])
PY
