#!/usr/bin/env bash
# Creates the virtualenv the JWKS tests mint tokens with (PyJWT 2 and
# cryptography); the Rust tests run tests/jwks/.venv/bin/python mint.py.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
