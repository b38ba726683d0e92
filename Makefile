# Rudder's front door. `make run` starts the single-node cluster, `make test` runs every
# test. Both install what they need first (scripts/install-deps.sh).
#
# One warm target dir outside the clone serves every checkout and CI: a clean build of
# the dependency set (bundled RocksDB above all) takes ~15 minutes on 2 cores.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/rudder-target
CARGO ?= cargo
DIR ?= .rudder

.PHONY: all deps build release test lint fmt certs run down bench bench-store bench-apiserver fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --all-targets

release: deps
	$(CARGO) build --workspace --release --bins

# Tests build in the dev profile only, the same one `build` and `lint` warm.
test: deps
	$(CARGO) test --workspace --no-fail-fast
	@echo "== the API server's integration tests again, on rudder-store instead of etcd"
	RUDDER_TEST_STORE=rudder-store RUDDER_STORE_BIN=$(CARGO_TARGET_DIR)/debug/rudder-store \
	  $(CARGO) test -p rudder-apiserver --no-fail-fast --test '*'
	@echo "== etcdctl check perf on a real etcd, then on rudder-store, alone on the machine"
	$(CARGO) test -p rudder-store --test etcdctl check_perf -- --ignored

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Cluster CA, certificates and kubeconfigs in $(DIR), kubeadm's layout.
certs: deps
	$(CARGO) run --quiet -p rudderadm -- certs --dir $(DIR)

# The single-node cluster: every component built, as child processes of rudderadm.
run: release
	$(CARGO_TARGET_DIR)/release/rudderadm up --dir $(DIR)

# Stops the cluster `make run` started, from another shell.
down:
	$(CARGO_TARGET_DIR)/release/rudderadm down --dir $(DIR)

# Every benchmark (bench/): figures side by side with a baseline; none is a test.
bench: bench-store bench-apiserver

# rudder-store next to a real etcd under the same load: 1 then 3 members, mTLS, fsync on,
# alternating rounds, one table of medians (scripts/bench-store.sh; ROUNDS=, DURATION=,
# SIZES= tune it).
bench-store: deps
	$(CARGO) build --release -p rudder-bench -p rudderadm -p rudder-store
	scripts/bench-store.sh

# rudder-apiserver on rudder-store next to rudder-apiserver on a real etcd under one
# Kubernetes REST load: pod create/get/update at 1/16/64 clients, 10,000-pod lists from
# the cache and from quorum, 1,000 watchers (scripts/bench-apiserver.sh; ROUNDS=,
# DURATION=, CLIENTS=, WATCHERS= tune it).
bench-apiserver: deps
	$(CARGO) build --release -p rudder-bench -p rudderadm -p rudder-store -p rudder-apiserver
	scripts/bench-apiserver.sh

# The fuzz targets of fuzz/ (request parsing, patches) on the stable toolchain, each for
# FUZZ_SECONDS (60); fails on a crash. Builds in its own target dir (scripts/fuzz.sh).
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

clean:
	$(CARGO) clean
