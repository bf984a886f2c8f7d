#!/bin/sh
# Writes test/fixtures/: for each conformance folder and examples/payments, the bundle, the
# entities, and the native engine's decision, explanation and plan JSON of every request
# (the ignored test `write_js_fixtures` of wasm/tests/tests/node.rs). The package's tests
# compare the npm package's answers with these, byte for byte.
#
# Extra arguments go to cargo: scripts/ci.sh passes `--workspace --exclude rampart-bench`
# so that the test binary it already built is reused as is.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(cd ../.. && pwd)
OUT="$(pwd)/test/fixtures"
rm -rf "$OUT"
mkdir -p "$OUT"
if [ "$#" -eq 0 ]; then set -- -p rampart-wasm-tests; fi
(cd "$ROOT" && RAMPART_JS_FIXTURES="$OUT" cargo test --locked "$@" --test node -- \
  --ignored --exact write_js_fixtures)
