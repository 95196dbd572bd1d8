#!/usr/bin/env bash
# Browser end-to-end tests: the demo page in Debian's Chromium against the real wsauth binary.
#   bash e2e/run.sh            # everything
#   bash e2e/run.sh tests/cross-site.test.mjs   # one file
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends chromium chromium-driver
fi

npm ci --no-audit --no-fund
(cd .. && cargo build --workspace --all-targets)
mkdir -p screenshots

if [ "$#" -gt 0 ]; then
  node --test --test-concurrency=1 "$@"
else
  node --test --test-concurrency=1 tests/
fi
