# Shared by the benchmark scripts (sourced): a scratch dir, the results dir, the
# processes started (stopped on any exit) and loopback ports below the ephemeral range.
# Set BENCH_NAME and OUT before sourcing.
work=$(mktemp -d "${TMPDIR:-/tmp}/rudder-bench-$BENCH_NAME.XXXXXX")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
pids=()
failed=0

# Stops the given processes: SIGTERM, then SIGKILL for any still there after 10 s.
stop() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}

cleanup() {
  if [ ${#pids[@]} -gt 0 ]; then stop "${pids[@]}"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nothing listens on and this run has not handed out yet.
used_ports=" "
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    case $used_ports in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      used_ports+="$port "
      echo "$port"
      return
    fi
  done
}

# round_order ROUND: the targets in the order round ROUND runs them, reversed every other
# round, so that neither target always runs right after the other (whose data the disk
# may still be writing back).
round_order() {
  local i
  if (( $1 % 2 )); then
    printf '%s\n' "${targets[@]}"
  else
    for ((i = ${#targets[@]} - 1; i >= 0; i--)); do printf '%s\n' "${targets[i]}"; done
  fi
}
