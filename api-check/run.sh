#!/usr/bin/env bash
# The library's public API against its committed snapshot
# (crates/wsauth/public-api.txt), so that every change to it is deliberate:
# a difference fails with the diff.
#   bash api-check/run.sh           # check
#   bash api-check/run.sh --bless   # write the snapshot after a deliberate change
# rustdoc's JSON output is unstable: RUSTC_BOOTSTRAP=1 lets the stable
# toolchain produce it. Every feature is on, so feature-gated items count.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.52.0
SNAPSHOT=crates/wsauth/public-api.txt

if [ "$(cargo public-api --version 2>/dev/null)" != "cargo-public-api $VERSION" ]; then
  cargo install cargo-public-api --version "$VERSION" --locked
fi
current="$(mktemp)"
trap 'rm -f "$current"' EXIT
RUSTC_BOOTSTRAP=1 cargo public-api -p wsauth --all-features -ss --color never > "$current"

if [ "${1:-}" = --bless ]; then
  cp "$current" "$SNAPSHOT"
  echo "wrote $SNAPSHOT ($(wc -l < "$SNAPSHOT") items)"
  exit 0
fi
if ! diff -u "$SNAPSHOT" "$current"; then
  echo "The public API of wsauth changed (- snapshot, + now). If that is deliberate," >&2
  echo "run: bash api-check/run.sh --bless, and say so in CHANGELOG.md." >&2
  exit 1
fi
echo "public API unchanged ($(wc -l < "$current") items)"
