# Shared by the bench scripts (sourced, not run).

# listening_address LOG: waits (60 s at most) for a server's
# "listening on http://127.0.0.1:PORT" line in LOG and prints 127.0.0.1:PORT;
# prints the log and fails if none came.
listening_address() {
  local addr
  for _ in $(seq 600); do
    addr="$(grep -om1 'listening on http://127\.0\.0\.1:[0-9]*' "$1" | sed 's#.*http://##' || true)"
    if [[ -n "$addr" ]]; then
      echo "$addr"
      return 0
    fi
    sleep 0.1
  done
  cat "$1" >&2
  return 1
}
