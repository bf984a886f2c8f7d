#!/bin/sh
# Builds the npm package in place: the engine module, then the TypeScript.
#
#   1. rampart.wasm: the plain-ABI engine module with no policy, built exactly as
#      cli/build.rs builds the one the CLI carries (crate rampart-wasm, wasm32-unknown-unknown,
#      profile wasm-release, target dir $CARGO_TARGET_DIR/wasm-modules, so the two builds
#      share their cache). RAMPART_WASM_ENGINE=/path/to/rampart_wasm.wasm uses a prebuilt
#      module instead, as for the CLI.
#   2. dist/index.js and dist/index.d.ts: `tsc` on src/index.ts (run `npm ci` first).
#
# Needs cargo and the wasm32-unknown-unknown target (`rustup target add wasm32-unknown-unknown`).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(cd ../.. && pwd)

if [ -n "${RAMPART_WASM_ENGINE:-}" ]; then
  MODULE=$RAMPART_WASM_ENGINE
else
  TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/wasm-modules"
  (cd "$ROOT" && cargo build --locked -p rampart-wasm --target wasm32-unknown-unknown \
    --profile wasm-release --target-dir "$TARGET_DIR")
  MODULE="$TARGET_DIR/wasm32-unknown-unknown/wasm-release/rampart_wasm.wasm"
fi
cp "$MODULE" rampart.wasm
cp "$ROOT/LICENSE" LICENSE
cp "$ROOT/CHANGELOG.md" CHANGELOG.md
./node_modules/.bin/tsc -p tsconfig.json
printf 'built rampart-policy: rampart.wasm (%s bytes), dist/index.js, dist/index.d.ts\n' \
  "$(wc -c < rampart.wasm | tr -d ' ')"
