#!/usr/bin/env bash
# The project's test command (README command two). It installs or starts what
# the tests need, builds everything (benchmarks included, so they cannot rot),
# and runs every test suite. Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\n== %s\n' "$*"; }

if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

log "build (all crates, tests, examples and benchmarks)"
cargo build --workspace --all-targets

log "services the tests need (PostgreSQL, Redis)"
bash scripts/services.sh

log "Rust tests (library and server, real server on loopback)"
cargo nextest run --workspace --no-fail-fast
cargo test --workspace --doc

log "browser end-to-end tests (the demo page in headless Chromium)"
bash e2e/run.sh

log "interop with fastapi-jwt-auth 0.5.0 (the seed system)"
bash interop/run.sh

log "Autobahn conformance (kosoku)"
bash conformance/run.sh

log "fuzzing (each target briefly; fuzz/run.sh long TARGET for the long runs)"
bash fuzz/run.sh short

log "OpenAPI conformance (schemathesis)"
bash openapi-check/run.sh
