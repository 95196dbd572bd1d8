# shellcheck shell=bash
# Shared by the bench scripts (sourced, not run).

# listening_address LOG: waits (60 s at most) for a server's
# "listening on http://127.0.0.1:PORT" line in LOG and prints 127.0.0.1:PORT;
# prints the log and fails if none came.
listening_address() {
  local addr
  for _ in $(seq 600); do
    addr="$(grep -som1 'listening on http://127\.0\.0\.1:[0-9]*' "$1" | sed 's#.*http://##' || true)"
    if [[ -n "$addr" ]]; then
      echo "$addr"
      return 0
    fi
    sleep 0.1
  done
  cat "$1" >&2
  return 1
}

# steer_receive SERVER_CPU: on loopback the core that sends a packet also
# runs the receiver's TCP processing for it, so a load generator pays for
# the server's receive work (the whole TCP handshake, the request, the
# close) and saturates before the server does. Receive flow steering (RFS)
# moves each packet's processing to the core where its socket was last
# read, as two hosts would split it; packets no socket has read yet (SYN,
# SYN-ACK, the handshake's last ACK) go to SERVER_CPU. Needs root; prints
# why and changes nothing otherwise. The caller restores the settings with
# restore_receive (the previous values are kept in STEERED).
STEER_FILES=(/proc/sys/net/core/rps_sock_flow_entries
  /sys/class/net/lo/queues/rx-0/rps_flow_cnt /sys/class/net/lo/queues/rx-0/rps_cpus)
STEERED=()
steer_receive() {
  local file
  for file in "${STEER_FILES[@]}"; do
    if [[ ! -w "$file" ]]; then
      echo "steer_receive: $file is not writable (needs root): not steering" >&2
      return 1
    fi
  done
  STEERED=("$(cat "${STEER_FILES[0]}")" "$(cat "${STEER_FILES[1]}")" "$(cat "${STEER_FILES[2]}")")
  echo 32768 > "${STEER_FILES[0]}"
  echo 32768 > "${STEER_FILES[1]}"
  printf '%x\n' "$((1 << $1))" > "${STEER_FILES[2]}"
}
restore_receive() {
  [[ ${#STEERED[@]} -eq 3 ]] || return 0
  echo "${STEERED[0]}" > "${STEER_FILES[0]}"
  echo "${STEERED[1]}" > "${STEER_FILES[1]}"
  echo "${STEERED[2]}" > "${STEER_FILES[2]}"
  STEERED=()
}
