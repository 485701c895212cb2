#!/usr/bin/env bash
# Fuzz smoke run: builds the cargo-fuzz targets and runs each for N seconds (default 20) over a
# temporary copy of the committed seed corpus (so runs never grow corpus/), failing if any target
# crashes, leaks, runs out of memory or times out. Crash inputs land in fuzz/artifacts/<target>/
# (git-ignored); see README.md for turning one into a regression seed.
#
#   fuzz/run.sh [seconds] [target...]
#
# Installs what it needs itself: the nightly toolchain through rustup (the machine image ships
# one) and cargo-fuzz from crates.io.
set -euo pipefail
cd "$(dirname "$0")"

secs="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(batches forward mm2_formats)
fi
# The same flags for build and run: cargo fuzz run rebuilds when they differ. Release mode with
# debug assertions and overflow checks (-a), AddressSanitizer (cargo-fuzz's default).
build_flags=(-a)
# Per input: 10 s is a hang (the parsers handle one fetch buffer in microseconds); 2 GiB of RSS,
# or one allocation that large, is a decoder trusting a claimed length.
fuzz_flags=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
CARGO_FUZZ_VERSION=0.13.2

echo "== fuzz toolchain (nightly through rustup, cargo-fuzz $CARGO_FUZZ_VERSION from crates.io)"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
rustup run nightly rustc --version
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
cargo fuzz --version

echo "== fuzz build (${targets[*]})"
start=$SECONDS
for t in "${targets[@]}"; do
  cargo +nightly fuzz build "${build_flags[@]}" "$t"
done
echo "fuzz build: $((SECONDS - start)) s"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
for t in "${targets[@]}"; do
  echo "== fuzz $t (${secs} s)"
  mkdir -p "$work/$t" "artifacts/$t"
  cp corpus/"$t"/* "$work/$t/"
  before="$(ls "artifacts/$t" | sort)"
  start=$SECONDS
  if cargo +nightly fuzz run "${build_flags[@]}" "$t" "$work/$t" -- "${fuzz_flags[@]}" \
    >"$work/$t.log" 2>&1; then
    # libFuzzer's closing lines: coverage, runs, speed.
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|#[0-9]+[[:space:]]+DONE)' \
      "$work/$t.log" || true
    echo "fuzz $t: ok after $((SECONDS - start)) s ($(ls "$work/$t" | wc -l) corpus inputs)"
    passed=$((passed + 1))
  else
    echo "fuzz $t: FAILED after $((SECONDS - start)) s; its log from the first error:"
    first="$(grep -nE "panicked at|==[0-9]+== ?ERROR" "$work/$t.log" | head -n 1 | cut -d: -f1 || true)"
    tail -n +"${first:-1}" "$work/$t.log" | head -n 150 || true
    for f in $(comm -13 <(echo "$before") <(ls "artifacts/$t" | sort)); do
      echo "-- input fuzz/artifacts/$t/$f ($(wc -c <"artifacts/$t/$f") bytes), hex:"
      od -An -v -tx1 "artifacts/$t/$f" | head -n 64 || true
    done
    failed=$((failed + 1))
  fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
