#!/usr/bin/env bash
# Builds the seed corpora fuzz/corpus/<target>/ from the repository: policy files, entity
# files and request files copied as they are, the small hand-written seeds of fuzz/seeds/,
# and what only Rust can produce (bundle JSON of every policy folder, each conformance
# case's request, CheckRequest protobufs, tokens signed by the test-only keys), written by
# the targets themselves (RAMPART_FUZZ_SEEDS=DIR, see fuzz/src/seeds.rs), so the targets
# must be built first. Existing corpus files are kept (libFuzzer adds to them).
#
#   fuzz/seed.sh [BIN_DIR]    BIN_DIR: where the built targets are
#                             (default fuzz/target/<host triple>/release)
set -euo pipefail

fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=${1:-$fuzz/target/$triple/release}
corpus=$fuzz/corpus

# copy TARGET FILE...: each file under a name that says where it came from.
copy() {
  local target=$1 file name
  shift
  mkdir -p "$corpus/$target"
  for file in "$@"; do
    [ -f "$file" ] || continue
    name=${file#"$root"/}
    cp "$file" "$corpus/$target/${name//\//_}"
  done
}

shopt -s nullglob
copy policy_text "$root"/tests/conformance/*/*.rampart "$root"/tests/ui/*/*.rampart \
  "$root"/examples/*/*.rampart "$root"/stdlib/*.rampart "$root"/stdlib/tests/*.rampart
copy entities "$root"/tests/conformance/*/entities.json "$root"/examples/*/entities.json \
  "$root"/examples/*/testdata/*.json
copy request_json "$root"/examples/*/requests/*.json
copy wasm_abi_input "$root"/examples/*/requests/*.json
for dir in "$fuzz"/seeds/*/; do
  copy "$(basename "$dir")" "$dir"*
done

for target in bundle request_json wasm_abi_input check_request jwt; do
  if [ ! -x "$bin_dir/$target" ]; then
    echo "seed.sh: \`$bin_dir/$target\` is not built; its generated seeds are skipped" >&2
    continue
  fi
  RAMPART_FUZZ_SEEDS="$corpus/$target" "$bin_dir/$target" 2>&1 | grep 'generated seeds' || true
done
for target in "$corpus"/*/; do
  echo "seed.sh: $(basename "$target"): $(find "$target" -type f | wc -l) inputs"
done
