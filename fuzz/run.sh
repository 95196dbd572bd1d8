#!/usr/bin/env bash
# Fuzzes the parsers that face clients and operators: token verification,
# credential location, live-socket frames and the server's configuration.
# Usage: bash fuzz/run.sh short          every target for 40 s (./test.sh)
#        bash fuzz/run.sh long TARGET    one target for 10 million runs or an
#                                        hour, whichever comes first
# New inputs go to fuzz/work/ (ignored); fuzz/corpus/ holds the seeds. A
# crash or a failed oracle stops the target, prints the input's path under
# fuzz/artifacts/, and makes the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(token_verify credential_locate live_frames channel_frames server_config)
SHORT_SECS=40
LONG_RUNS=10000000
LONG_SECS=3600

log() { printf '%s\n' "$*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# -s none: no sanitizer (the code is safe Rust), which works on stable.
# -a: debug assertions, so integer overflow panics instead of wrapping.
FUZZ_FLAGS=(-s none -a)

# Runs one target for at most $1 seconds and $2 executions; prints one
# summary line; fails on a crash.
fuzz_one() {
  local target=$1 secs=$2 runs=$3
  mkdir -p "fuzz/work/$target"
  local out="fuzz/work/$target.log" status=0
  timeout --kill-after=30 $((secs + 120)) cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" \
    "fuzz/work/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -runs="$runs" -max_len=16384 -timeout=10 -print_final_stats=1 \
    >"$out" 2>&1 || status=$?
  local executed cov
  executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$out" | tail -n 1 | cut -d' ' -f2)
  if [ "$status" -eq 0 ]; then
    printf '%-18s %10s runs  cov %5s  0 crashes\n' "$target" "${executed:-?}" "${cov:-?}"
  else
    printf '%-18s %10s runs  cov %5s  FAILED (exit %s, log %s)\n' \
      "$target" "${executed:-?}" "${cov:-?}" "$status" "$out"
    grep -E 'panicked at|Test unit written to|ERROR: libFuzzer' "$out" >&2 || true
    return 1
  fi
}

case "${1:-}" in
  short)
    log "building the fuzz targets"
    cargo fuzz build "${FUZZ_FLAGS[@]}"
    failed=0
    for target in "${TARGETS[@]}"; do
      fuzz_one "$target" "$SHORT_SECS" -1 || failed=1
    done
    exit "$failed"
    ;;
  long)
    target=${2:?usage: fuzz/run.sh long TARGET}
    cargo fuzz build "${FUZZ_FLAGS[@]}" "$target"
    fuzz_one "$target" "$LONG_SECS" "$LONG_RUNS"
    ;;
  *)
    log "usage: fuzz/run.sh short | long TARGET (targets: ${TARGETS[*]})"
    exit 2
    ;;
esac
