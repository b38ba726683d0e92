#!/usr/bin/env bash
# `make bench-store`: rudder-store next to a real etcd (Debian's etcd-server) under the
# same load, printed as one table (issue 3, DESIGN §9.5).
#
# For each cluster size (1, then 3 members on loopback) and each round, it starts a fresh
# cluster of each target with the same flags (etcd's names: both take them), mTLS on the
# client and peer ports with certificates from `rudderadm certs`, fsync on (the default of
# both), fresh data dirs in a temp dir; runs `rudder-bench store` against it; and stops it.
# Targets alternate, every other round in reverse (etcd, rudder, rudder, etcd, ...), so that
# a slow spell of the machine hits both and neither always runs second. `rudder-bench
# compare` then prints medians per cell, ratios and pass/fail.
#
# Only orchestration lives here; the load, medians and table are rudder-bench's (Rust,
# unit-tested). Every process started is killed on exit, whatever the exit.
#
# Then, with CHECK_PERF=1 (the default), `etcdctl check perf --load=s` (etcd's own verdict:
# 50 clients at 150 writes/s for 60 s; slowest request < 0.5 s, stddev < 0.1 s, ≥ 90% of the
# rate) against one fresh member of each target, printed side by side: on a busy machine
# etcd fails it too, so rudder's verdict only means something next to etcd's.
#
# Knobs (environment): ROUNDS=3  DURATION=10s  CLIENTS=1,16,64,256  RANGE_CLIENTS=16
#   SIZES="1 3"  CONNS_PER_MEMBER=4  SNAPSHOT_COUNT=100000  TARGETS="etcd rudder"  CHECK_PERF=1
#   ETCD=/usr/bin/etcd  RUDDER_STORE=<target>/release/rudder-store  OUT=<results dir>
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-1,16,64,256}
RANGE_CLIENTS=${RANGE_CLIENTS:-16}
SIZES=${SIZES:-1 3}
CONNS_PER_MEMBER=${CONNS_PER_MEMBER:-4}
# etcd 3.4's default, passed to both so the two snapshot equally often.
SNAPSHOT_COUNT=${SNAPSHOT_COUNT:-100000}
TARGETS=${TARGETS:-etcd rudder}
CHECK_PERF=${CHECK_PERF:-1}

BIN_DIR=${BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/rudder-target}/release}
ETCD=${ETCD:-/usr/bin/etcd}
RUDDER_STORE=${RUDDER_STORE:-$BIN_DIR/rudder-store}
BENCH=$BIN_DIR/rudder-bench
RUDDERADM=$BIN_DIR/rudderadm
OUT=${OUT:-$BIN_DIR/../bench-store/$(date -u +%Y%m%dT%H%M%SZ)}

for tool in "$BENCH" "$RUDDERADM"; do
  [ -x "$tool" ] || { echo "bench-store: $tool is missing; run: cargo build --release -p rudder-bench -p rudderadm" >&2; exit 1; }
done
[ -x "$ETCD" ] || { echo "bench-store: $ETCD is missing; run scripts/install-deps.sh (Debian etcd-server)" >&2; exit 1; }

targets=()
for target in $TARGETS; do
  case $target in
    etcd) targets+=(etcd) ;;
    rudder)
      if [ -x "$RUDDER_STORE" ]; then
        targets+=(rudder)
      else
        echo "bench-store: rudder-store is not built ($RUDDER_STORE): running etcd alone"
      fi ;;
    *) echo "bench-store: unknown target $target (etcd, rudder)" >&2; exit 2 ;;
  esac
done

BENCH_NAME=store
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

"$RUDDERADM" certs --dir "$work/certs" --store-member m1,m2,m3 >/dev/null
pki=$work/certs/pki

# start_cluster TARGET SIZE DIR: starts SIZE members, sets pids and endpoints.
start_cluster() {
  local target=$1 size=$2 dir=$3 i
  local -a client peer metrics
  for i in $(seq "$size"); do
    client[i]=$(free_port); peer[i]=$(free_port); metrics[i]=$(free_port)
  done
  local initial=""
  for i in $(seq "$size"); do initial+="${initial:+,}m$i=https://127.0.0.1:${peer[i]}"; done
  endpoints=""
  pids=()
  for i in $(seq "$size"); do
    endpoints+="${endpoints:+,}https://127.0.0.1:${client[i]}"
    local flags=(
      --name "m$i" --data-dir "$dir/m$i"
      --listen-client-urls "https://127.0.0.1:${client[i]}"
      --advertise-client-urls "https://127.0.0.1:${client[i]}"
      --listen-peer-urls "https://127.0.0.1:${peer[i]}"
      --initial-advertise-peer-urls "https://127.0.0.1:${peer[i]}"
      --initial-cluster "$initial" --initial-cluster-state new
      --initial-cluster-token "bench-$(basename "$dir")"
      --cert-file "$pki/store/m$i.crt" --key-file "$pki/store/m$i.key"
      --trusted-ca-file "$pki/ca.crt" --client-cert-auth
      --peer-cert-file "$pki/store/m$i.crt" --peer-key-file "$pki/store/m$i.key"
      --peer-trusted-ca-file "$pki/ca.crt" --peer-client-cert-auth
      --listen-metrics-urls "http://127.0.0.1:${metrics[i]}"
      --snapshot-count "$SNAPSHOT_COUNT" --heartbeat-interval 100 --election-timeout 1000
    )
    case $target in
      etcd) "$ETCD" "${flags[@]}" --logger zap --log-outputs stderr 2>"$dir/m$i.log" </dev/null >/dev/null & ;;
      rudder) "$RUDDER_STORE" "${flags[@]}" 2>"$dir/m$i.log" </dev/null >/dev/null & ;;
    esac
    pids+=($!)
  done
}

echo "bench-store: ${targets[*]}; sizes $SIZES; $ROUNDS round(s) of $DURATION phases; results in $OUT"
[[ " ${targets[*]} " == *" rudder "* ]] && echo "bench-store: rudder-store is $RUDDER_STORE ($(date -r "$RUDDER_STORE" '+built %F %T'))"
for size in $SIZES; do
  for round in $(seq "$ROUNDS"); do
    for target in $(round_order "$round"); do
      name=$target-m$size-r$round
      dir=$work/$name
      mkdir -p "$dir"
      echo "== $target, $size member(s), round $round/$ROUNDS"
      start_cluster "$target" "$size" "$dir"
      # In the background and waited for, so that a signal reaches the trap at once.
      "$BENCH" store --endpoints "$endpoints" --label "$target" --json \
        --cacert "$pki/ca.crt" --cert "$pki/apiserver-etcd-client.crt" --key "$pki/apiserver-etcd-client.key" \
        --conns $((size * CONNS_PER_MEMBER)) --clients "$CLIENTS" --range-clients "$RANGE_CLIENTS" \
        --duration "$DURATION" --wait 60s >"$dir/result.json" </dev/null &
      pids+=($!)
      if ! wait "${pids[-1]}"; then
        failed=$((failed + 1))
        mkdir -p "$OUT/logs/$name"
        cp "$dir"/m*.log "$OUT/logs/$name/" 2>/dev/null || true
        echo "bench-store: $name failed; member logs in $OUT/logs/$name" >&2
      else
        cp "$dir/result.json" "$OUT/$name.json"
      fi
      stop "${pids[@]}"
      pids=()
      rm -rf "$dir"
    done
  done
done

# check_perf TARGET: etcdctl check perf --load=s against one fresh member of TARGET.
check_perf() {
  local target=$1 dir=$work/check-perf-$1
  mkdir -p "$dir"
  start_cluster "$target" 1 "$dir"
  local etcdctl=(env ETCDCTL_API=3 etcdctl --endpoints "$endpoints" --cacert "$pki/ca.crt"
    --cert "$pki/apiserver-etcd-client.crt" --key "$pki/apiserver-etcd-client.key")
  for _ in $(seq 300); do "${etcdctl[@]}" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
  # the progress bar redraws with carriage returns; keep etcdctl's verdict lines
  "${etcdctl[@]}" check perf --load=s 2>&1 </dev/null | tr '\r' '\n' \
    | grep -oE '(PASS|FAIL|Slowest request).*' | sed "s/^/check perf, $target: /" | tee -a "$OUT/check-perf.txt" &
  pids+=($!)
  wait "${pids[-1]}" || true
  stop "${pids[@]}"
  pids=()
  rm -rf "$dir"
}

if [ "$CHECK_PERF" = 1 ]; then
  echo "== etcdctl check perf --load=s, 1 member each (60 s per target)"
  for target in "${targets[@]}"; do check_perf "$target"; done
fi

shopt -s nullglob
results=("$OUT"/*.json)
if [ ${#results[@]} -eq 0 ]; then
  echo "bench-store: no run succeeded" >&2
  exit 1
fi
echo
"$BENCH" compare "${results[@]}" | tee "$OUT/table.md"
echo "results: $OUT"
[ "$failed" = 0 ] || { echo "bench-store: $failed run(s) failed" >&2; exit 1; }
