#!/usr/bin/env bash
# `make fuzz`: the fuzz targets of fuzz/ (the API server's request parsing, and patches
# applied to stored objects), each for a bounded time; fails on a crash (issue 4).
#
# The binaries are built on the stable toolchain with the coverage instrumentation
# `cargo fuzz build --sanitizer none` asks rustc for (no nightly, no cargo-fuzz needed;
# libfuzzer-sys builds libFuzzer with the C++ compiler). Each target first replays
# every file of its committed corpus (an input that once crashed stays a regression
# test), then fuzzes. New inputs go to a scratch corpus under the target dir, never
# into fuzz/corpus; a crash leaves its input in $OUT and the script exits 1 naming it.
# (`cargo test --manifest-path fuzz/Cargo.toml` replays the corpus without libFuzzer.)
#
# Knobs (environment): FUZZ_SECONDS=60 (per target)  FUZZ_TARGETS="request patch"
#   FUZZ_TIMEOUT=30 (seconds one input may take)  FUZZ_RSS_MB=2048  FUZZ_MAX_LEN=65536
#   CARGO_TARGET_DIR (default ~/.cache/rudder-target-fuzz: the flags differ from the
#   main build's, so it gets a dir of its own)
set -euo pipefail

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TARGETS=${FUZZ_TARGETS:-request patch}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-30}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-65536}
CARGO=${CARGO:-cargo}

root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/rudder-target-fuzz}
manifest=$root/fuzz/Cargo.toml
host=$(rustc -vV | sed -n 's/^host: //p')
OUT=${OUT:-$CARGO_TARGET_DIR/fuzz-runs/$(date -u +%Y%m%dT%H%M%SZ)}

# What `cargo fuzz build --sanitizer none` passes: SanitizerCoverage with inline 8-bit
# counters, the PC table and comparison tracing, which libFuzzer reads; `--cfg fuzzing`;
# and debug assertions and overflow checks kept on in the optimised build. `--target`
# keeps the flags off build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
echo "== fuzz: building the targets (instrumented, $host)"
"$CARGO" build --manifest-path "$manifest" --locked --release --target "$host" --bins

mkdir -p "$OUT"
failed=()
for target in $FUZZ_TARGETS; do
  bin=$CARGO_TARGET_DIR/$host/release/$target
  seeds=$root/fuzz/corpus/$target
  [ -x "$bin" ] || { echo "fuzz: no target $target ($bin)" >&2; exit 2; }
  [ -d "$seeds" ] || { echo "fuzz: no seed corpus $seeds" >&2; exit 2; }
  work=$CARGO_TARGET_DIR/fuzz-corpus/$target
  mkdir -p "$work" "$OUT/$target"
  echo "== fuzz: $target: replaying $(ls "$seeds" | wc -l) committed inputs"
  if ! "$bin" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" \
      -artifact_prefix="$OUT/$target/" "$seeds"/* 2>"$OUT/$target-replay.log"; then
    failed+=("$target")
    tail -n 40 "$OUT/$target-replay.log" >&2
    echo "fuzz: $target fails on a committed input (log: $OUT/$target-replay.log)" >&2
    continue
  fi
  echo "== fuzz: $target for ${FUZZ_SECONDS}s"
  # The scratch corpus first: libFuzzer writes what it finds into the first dir only.
  if ! "$bin" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" \
      -rss_limit_mb="$FUZZ_RSS_MB" -max_len="$FUZZ_MAX_LEN" -print_final_stats=1 \
      -artifact_prefix="$OUT/$target/" "$work" "$seeds" 2>"$OUT/$target.log"; then
    failed+=("$target")
    tail -n 40 "$OUT/$target.log" >&2
    echo "fuzz: $target failed; inputs: $(ls "$OUT/$target" | tr '\n' ' ')(in $OUT/$target)" >&2
    echo "fuzz: reproduce with: $bin $OUT/$target/<input>" >&2
  else
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)' \
      "$OUT/$target.log" | sed "s/^/  $target: /" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashed: ${failed[*]} (logs and inputs in $OUT)" >&2
  exit 1
fi
echo "fuzz: no crash in ${FUZZ_TARGETS} (${FUZZ_SECONDS}s each); logs in $OUT"
