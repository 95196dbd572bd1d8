#!/usr/bin/env bash
# Interop between wsauth and fastapi-jwt-auth 0.5.0 (the seed system), and wsauth as
# nginx's auth_request in front of a FastAPI app (forward auth), on loopback only.
#   bash interop/run.sh                 # everything
#   bash interop/run.sh -k cookie       # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")"

# nginx (Debian's package) for the forward-auth tests (test_forward_auth.py).
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends nginx
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt

(cd .. && cargo build --workspace --all-targets)

# One HS256 secret (32+ bytes) for both sides: the seed reads SEED_SECRET, and the pytest
# fixtures pass the same value to wsauth as WSAUTH_HMAC_SECRET.
if [ -z "${SEED_SECRET:-}" ]; then
  SEED_SECRET="$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(32))')"
fi
export SEED_SECRET

exec .venv/bin/python -m pytest -v -p no:cacheprovider "$@"
