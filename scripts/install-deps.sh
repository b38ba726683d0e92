#!/usr/bin/env bash
# Installs what building and testing Rudder needs on a Debian machine, or says exactly
# what is missing. Idempotent: a machine that has everything is left untouched.
set -euo pipefail

# Debian packages, each with the command or file that shows it is there.
#   libclang-dev   bindgen in librocksdb-sys (the bundled RocksDB build)
#   etcd-client    etcdctl: the store's compatibility tests drive it
#   etcd-server    a real etcd 3.4: side-by-side tests and benchmarks
#   protobuf-compiler  protoc for etcd-client's build script (the etcd v3 protos);
#                  our own protos use the vendored protoc
declare -A probe=(
  [libclang-dev]="/usr/lib/llvm-14/lib/libclang.so"
  [etcd-client]="/usr/bin/etcdctl"
  [etcd-server]="/usr/bin/etcd"
  [protobuf-compiler]="/usr/bin/protoc"
)

missing=()
for pkg in "${!probe[@]}"; do
  [ -e "${probe[$pkg]}" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PyPI's kubernetes client: the API server's real-client tests drive it.
if command -v python3 >/dev/null && ! python3 -c 'import kubernetes' 2>/dev/null; then
  echo "installing the Python kubernetes client (pip)"
  python3 -m pip install --quiet --disable-pip-version-check kubernetes \
    || { echo "pip install kubernetes failed; the Python client tests will fail" >&2; exit 1; }
fi

command -v cargo >/dev/null || { echo "cargo is missing: install Rust 1.95 or newer (rustup)" >&2; exit 1; }

# kubectl is not a Debian package; the machines this project runs on ship it. Tests that
# drive the real kubectl say so and fail when it is absent.
command -v kubectl >/dev/null || echo "note: kubectl is not on PATH; the real-kubectl tests will fail" >&2
exit 0
