#!/usr/bin/env bash
# Interop between wsauth and fastapi-jwt-auth 0.5.0 (the seed system), on loopback only.
#   bash interop/run.sh                 # everything
#   bash interop/run.sh -k cookie       # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")"

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
