#!/bin/sh
# Builds the Python wheel (bindings/python, maturin from PyPI) and proves it as a user gets
# it: installed into a fresh venv, it replays the conformance corpus and the binding's tests
# (pytest), and runs docs/embedding.md's FastAPI example against real HTTP requests.
#
#   target/py/tools/     venv with maturin (the build tool only)
#   target/py/wheels/    the built abi3 wheel (rampart_policy-VERSION-cp39-abi3-*.whl)
#   target/py/fresh/     a new venv each run: the wheel, pytest, and the example's own deps
#
# Needs python3 with venv and the package registries (PyPI). Called by scripts/ci.sh.
set -eu
cd "$(dirname "$0")/.."
. scripts/venv.sh

PY="$(pwd)/target/py"
# Pinned: the versions the binding and its example are tested with (docs/embedding.md).
MATURIN="maturin==1.16.0"
TEST_PACKAGES="pytest==9.2.0 fastapi==0.165.0 uvicorn==0.55.0 pyjwt==2.15.1"

if [ ! -x "$PY/tools/bin/maturin" ]; then
  mkdir -p "$PY"
  make_venv "$PY/tools"
  "$PY/tools/bin/pip" install --quiet --disable-pip-version-check "$MATURIN"
fi

# The binding is its own cargo workspace (it is not built by `cargo test --workspace`); it
# shares the main target directory so the engine's dependencies are compiled once.
rm -rf "$PY/wheels"
(cd bindings/python && CARGO_TARGET_DIR=../../target "$PY/tools/bin/maturin" build --release \
  --locked --quiet --out "$PY/wheels")
WHEEL="$(ls "$PY"/wheels/rampart_policy-*.whl)"
echo "built $WHEEL"

make_venv "$PY/fresh"
"$PY/fresh/bin/pip" install --quiet --disable-pip-version-check "$WHEEL" $TEST_PACKAGES

# Run from outside the repository's bindings/python folder: the installed wheel is imported,
# not the source tree.
cd "$PY"
"$PY/fresh/bin/python" -m pytest -q -p no:cacheprovider \
  ../../bindings/python/tests ../../examples/embed-python
