#!/usr/bin/env bash
# The npm package rampart-policy against @cedar-policy/cedar-wasm, per decision (issue 19;
# results in docs/performance.md, "Language bindings: Node"). A benchmark, never a test: it
# fails only when something could not be built or the two engines disagree.
#
#   scripts/bench-node.sh [--requests N] [-- ARGS FOR bench/bindings/node.mjs]
#
# Needs rustup (with wasm32-unknown-unknown) and Node 18 or newer. In one run:
#   1. `rampart-bench emit small DIR --requests N` (release): the workload's policies in
#      both languages, its entities, and its first N requests (default 1,000) in Rampart's
#      and in Cedar's request JSON;
#   2. `rampart build DIR/rampart -o DIR/bundle.json` (the debug CLI: a bundle does not depend
#      on the profile);
#   3. the npm package built (bindings/js: npm ci, npm run build) and cedar-wasm installed
#      (bench/bindings/node: npm ci, pinned by its package-lock.json);
#   4. bench/bindings/node.mjs DIR: checks that both engines decide every request alike,
#      then prints the table (and writes it as JSON).
# Everything goes under the cargo target folder ($CARGO_TARGET_DIR, else target/):
# bench-node/{small,results.json}.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
REQUESTS=1000
usage() { printf 'usage: scripts/bench-node.sh [--requests N] [-- ARGS]\n' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --requests) [ $# -ge 2 ] || usage; REQUESTS=$2; shift ;;
    --) shift; break ;;
    *) usage ;;
  esac
  shift
done
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
OUT=$TARGET/bench-node
rm -rf "$OUT/small"
mkdir -p "$OUT"
cargo run --release --locked -q -p rampart-bench -- emit small "$OUT/small" --requests "$REQUESTS"
cargo build --locked -q -p rampart-cli
"$TARGET/debug/rampart" build "$OUT/small/rampart" -o "$OUT/small/bundle.json"
(cd bindings/js && npm ci --no-audit --no-fund --loglevel=error && npm run build)
(cd bench/bindings/node && npm ci --no-audit --no-fund --loglevel=error)
node bench/bindings/node.mjs "$OUT/small" --json "$OUT/results.json" "$@"
