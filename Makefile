# Rudder's front door. `make run` starts the single-node cluster, `make test` runs every
# test. Both install what they need first (scripts/install-deps.sh).
#
# One warm target dir outside the clone serves every checkout and CI: a clean build of
# the dependency set (bundled RocksDB above all) takes ~15 minutes on 2 cores.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/rudder-target
CARGO ?= cargo
DIR ?= .rudder

.PHONY: all deps build release test lint fmt certs run bench clean

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

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Cluster CA, certificates and kubeconfigs in $(DIR), kubeadm's layout.
certs: deps
	$(CARGO) run --quiet -p rudderadm -- certs --dir $(DIR)

run: release
	scripts/run-local.sh $(DIR)

clean:
	$(CARGO) clean
