#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets of fuzz/, seeds their corpora
# from the repository (fuzz/seed.sh) and runs each for a bounded time; fails on any crash,
# timeout or out-of-memory. See fuzz/README.md.
#
#   scripts/fuzz-smoke.sh                  every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=300 scripts/fuzz-smoke.sh jwt bundle
#
# Neither cargo-fuzz nor nightly is needed: the targets are built by plain `cargo build` on
# the default toolchain with the flags `cargo fuzz build -O -a -s none` passes (without a
# sanitizer, stable Rust builds them; `cargo fuzz run -O -a -s none` reuses the build).
# Crashes are written to fuzz/artifacts/<target>/; reproduce one with
# `fuzz/target/<triple>/release/<target> fuzz/artifacts/<target>/crash-…`.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
export RAMPART_SKIP_WASM_BUILD=1

triple=$(rustc -vV | sed -n 's/^host: //p')

started=$(date +%s)
# What cargo-fuzz 0.13 sets for `build -O -a -s none` (release, debug assertions on: the
# overflow checks of the front end run while fuzzing; no sanitizer: every target drives
# safe Rust, the engine and the runtime forbid `unsafe`).
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cllvm-args=-sanitizer-coverage-stack-depth \
-Cdebug-assertions -Ccodegen-units=1"
cargo build --manifest-path fuzz/Cargo.toml --target "$triple" --release \
  --config 'profile.release.debug="line-tables-only"' --bins
unset RUSTFLAGS
built=$(date +%s)
bin_dir=fuzz/target/$triple/release

fuzz/seed.sh "$bin_dir" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(policy_text bundle entities request_json check_request forward_auth_headers jwt
    wasm_abi_input differential)
fi
failed=()
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  dict=()
  [ -f "fuzz/$target.dict" ] && dict=("-dict=fuzz/$target.dict")
  log=fuzz/artifacts/$target/smoke.log
  # -timeout: one input running 10 s is a finding (a stall); -rss_limit_mb: so is 2 GiB.
  if "$bin_dir/$target" "fuzz/corpus/$target" "${dict[@]}" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$target/" >"$log" 2>&1; then
    stats=$(grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" |
      sed 's/stat:://' | tr -s '\n ' '  ')
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    echo "fuzz-smoke: $target ok: $cov $stats"
  else
    echo "fuzz-smoke: $target FAILED (log: $log)" >&2
    grep -E -A 20 '^(==[0-9]+== ERROR|thread .* panicked|SUMMARY)' "$log" | head -40 >&2 || true
    failed+=("$target")
  fi
done
finished=$(date +%s)
echo "fuzz-smoke: build $((built - started)) s, fuzzing $((finished - built)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
