#!/usr/bin/env bash
# `make bench-apiserver`: rudder-apiserver under one Kubernetes REST load (issue 4's
# benchmark), on rudder-store and, as the baseline, on a real etcd 3.4 (Debian's
# etcd-server), printed as one table.
#
# Each round starts, for each target, a fresh single-member store (etcd's flags: both
# take them; mTLS, fsync on, a fresh data dir) and rudder-apiserver on it with the
# flags `rudderadm up` gives it (kube-apiserver's names: RBAC and Node authorization,
# service-account keys), runs `rudder-bench apiserver` with the admin kubeconfig
# `rudderadm certs` wrote, and stops both. Targets alternate, every other round in
# reverse (etcd, rudder, rudder, etcd, ...), so a slow spell of the machine hits both and
# neither always runs second. `rudder-bench compare` then prints medians,
# ratios, and issue 4's targets (mutating p99 < 25 ms, a 10,000-pod list from the
# cache < 100 ms).
#
# Only orchestration lives here; the load, medians and table are rudder-bench's (Rust,
# unit-tested). Every process started is killed on exit, whatever the exit.
#
# Knobs (environment): ROUNDS=3  DURATION=10s  CLIENTS=1,16,64  CONNS=4  LIST_PODS=10000
#   LISTS=20  WATCHERS=1000  WATCH_WRITES=50  WORKLOADS=create,get,update,list,watch
#   TARGETS="etcd rudder"  BIN_DIR=<target>/release  RUDDER_APISERVER=$BIN_DIR/rudder-apiserver
#   RUDDER_STORE=$BIN_DIR/rudder-store  ETCD=/usr/bin/etcd  OUT=<results dir>
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-1,16,64}
CONNS=${CONNS:-4}
LIST_PODS=${LIST_PODS:-10000}
LISTS=${LISTS:-20}
WATCHERS=${WATCHERS:-1000}
WATCH_WRITES=${WATCH_WRITES:-50}
WORKLOADS=${WORKLOADS:-create,get,update,list,watch}
TARGETS=${TARGETS:-etcd rudder}

BIN_DIR=${BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/rudder-target}/release}
ETCD=${ETCD:-/usr/bin/etcd}
RUDDER_STORE=${RUDDER_STORE:-$BIN_DIR/rudder-store}
RUDDER_APISERVER=${RUDDER_APISERVER:-$BIN_DIR/rudder-apiserver}
BENCH=${BENCH:-$BIN_DIR/rudder-bench}
RUDDERADM=${RUDDERADM:-$BIN_DIR/rudderadm}
OUT=${OUT:-$BIN_DIR/../bench-apiserver/$(date -u +%Y%m%dT%H%M%SZ)}

for tool in "$BENCH" "$RUDDERADM" "$RUDDER_APISERVER"; do
  [ -x "$tool" ] || { echo "bench-apiserver: $tool is missing; run: cargo build --release -p rudder-bench -p rudderadm -p rudder-apiserver" >&2; exit 1; }
done

targets=()
for target in $TARGETS; do
  case $target in
    etcd)
      if [ -x "$ETCD" ]; then targets+=(etcd); else
        echo "bench-apiserver: $ETCD is missing (scripts/install-deps.sh installs Debian etcd-server): running rudder-store alone"
      fi ;;
    rudder)
      if [ -x "$RUDDER_STORE" ]; then targets+=(rudder); else
        echo "bench-apiserver: rudder-store is not built ($RUDDER_STORE): running etcd alone"
      fi ;;
    *) echo "bench-apiserver: unknown target $target (etcd, rudder)" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || { echo "bench-apiserver: no store to run on" >&2; exit 1; }

BENCH_NAME=apiserver
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

# One API server port for every round: the kubeconfig names it.
api_port=$(free_port)
"$RUDDERADM" certs --dir "$work/certs" --server "https://127.0.0.1:$api_port" >/dev/null
pki=$work/certs/pki

# start_cluster TARGET DIR: a store member and an API server on it; sets pids.
start_cluster() {
  local target=$1 dir=$2
  local client peer metrics
  client=$(free_port); peer=$(free_port); metrics=$(free_port)
  local store_flags=(
    --name default --data-dir "$dir/store"
    --listen-client-urls "https://127.0.0.1:$client" --advertise-client-urls "https://127.0.0.1:$client"
    --listen-peer-urls "https://127.0.0.1:$peer" --initial-advertise-peer-urls "https://127.0.0.1:$peer"
    --initial-cluster "default=https://127.0.0.1:$peer" --initial-cluster-state new
    --cert-file "$pki/store/default.crt" --key-file "$pki/store/default.key"
    --trusted-ca-file "$pki/ca.crt" --client-cert-auth
    --peer-cert-file "$pki/store/default.crt" --peer-key-file "$pki/store/default.key"
    --peer-trusted-ca-file "$pki/ca.crt" --peer-client-cert-auth
    --listen-metrics-urls "http://127.0.0.1:$metrics"
  )
  pids=()
  case $target in
    etcd) "$ETCD" "${store_flags[@]}" --logger zap --log-outputs stderr 2>"$dir/store.log" </dev/null >/dev/null & ;;
    rudder) "$RUDDER_STORE" "${store_flags[@]}" 2>"$dir/store.log" </dev/null >/dev/null & ;;
  esac
  pids+=($!)
  # As `rudderadm up` starts it; it retries the store until the store answers.
  "$RUDDER_APISERVER" \
    --etcd-servers "https://127.0.0.1:$client" --etcd-cafile "$pki/ca.crt" \
    --etcd-certfile "$pki/apiserver-etcd-client.crt" --etcd-keyfile "$pki/apiserver-etcd-client.key" \
    --bind-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --authorization-mode Node,RBAC \
    2>"$dir/apiserver.log" </dev/null >/dev/null &
  pids+=($!)
}

echo "bench-apiserver: ${targets[*]}; $ROUNDS round(s) of $DURATION phases; results in $OUT"
echo "bench-apiserver: rudder-apiserver is $RUDDER_APISERVER ($(date -r "$RUDDER_APISERVER" '+built %F %T'))"
for round in $(seq "$ROUNDS"); do
  for target in $(round_order "$round"); do
    name=$target-r$round
    dir=$work/$name
    mkdir -p "$dir"
    echo "== rudder-apiserver on $target, round $round/$ROUNDS"
    start_cluster "$target" "$dir"
    # In the background and waited for, so that a signal reaches the trap at once.
    "$BENCH" apiserver --kubeconfig "$work/certs/admin.conf" --label "$target" --json \
      --workloads "$WORKLOADS" --clients "$CLIENTS" --conns "$CONNS" --duration "$DURATION" \
      --list-pods "$LIST_PODS" --lists "$LISTS" --watchers "$WATCHERS" --watch-writes "$WATCH_WRITES" \
      --wait 120s >"$dir/result.json" </dev/null &
    pids+=($!)
    if ! wait "${pids[-1]}"; then
      failed=$((failed + 1))
      mkdir -p "$OUT/logs/$name"
      cp "$dir"/*.log "$OUT/logs/$name/" 2>/dev/null || true
      echo "bench-apiserver: $name failed; logs in $OUT/logs/$name" >&2
    else
      cp "$dir/result.json" "$OUT/$name.json"
    fi
    stop "${pids[@]}"
    pids=()
    rm -rf "$dir"
  done
done

shopt -s nullglob
results=("$OUT"/*.json)
if [ ${#results[@]} -eq 0 ]; then
  echo "bench-apiserver: no run succeeded" >&2
  exit 1
fi
echo
"$BENCH" compare --baseline etcd --candidate rudder "${results[@]}" | tee "$OUT/table.md"
echo "results: $OUT"
[ "$failed" = 0 ] || { echo "bench-apiserver: $failed run(s) failed" >&2; exit 1; }
