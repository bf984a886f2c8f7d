#!/usr/bin/env bash
# Rampart's Python binding against cedarpy, per decision (issue 19; results in
# docs/performance.md, "Language bindings: Python"). A benchmark, never a test: it fails
# only when something could not be built or the two engines disagree.
#
#   scripts/bench-python.sh [--requests N] [-- ARGS FOR bench/bindings/python.py]
#
# Needs rustup and python3 (with venv) only. In one run:
#   1. `rampart-bench emit small DIR --requests N` (release): the workload's policies in
#      both languages, its entities, and its first N requests (default 1,000) in Rampart's
#      and in Cedar's request JSON;
#   2. a venv with maturin and cedarpy, both pinned;
#   3. the `rampart-policy` wheel built in release (`maturin build --release --locked`) and
#      installed into the venv;
#   4. bench/bindings/python.py DIR (at nice -10 when run as root): checks that both
#      engines decide every request alike, then prints the table and writes it as JSON.
# Everything goes under the cargo target folder ($CARGO_TARGET_DIR, else target/):
# bench-python/{small,venv,wheels,results.json}.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
. scripts/venv.sh

CEDARPY_VERSION=4.12.2
MATURIN_VERSION=1.16.0
REQUESTS=1000
usage() { printf 'usage: scripts/bench-python.sh [--requests N] [-- ARGS]\n' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --requests)
      [ $# -ge 2 ] || usage
      REQUESTS=$2
      shift
      ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
  shift
done

TARGET=${CARGO_TARGET_DIR:-$REPO/target}
WORK=$TARGET/bench-python
note() { printf '== %s\n' "$*" >&2; }

note "emit the small workload ($REQUESTS requests)"
rm -rf "$WORK/small"
cargo run --release --locked -p rampart-bench -- emit small "$WORK/small" --requests "$REQUESTS"

note "venv with maturin $MATURIN_VERSION and cedarpy $CEDARPY_VERSION"
mkdir -p "$WORK"
[ -x "$WORK/venv/bin/python" ] || make_venv "$WORK/venv"
PY=$WORK/venv/bin/python
"$PY" -m pip install --quiet --disable-pip-version-check \
  "maturin==$MATURIN_VERSION" "cedarpy==$CEDARPY_VERSION"

note "build the rampart-policy wheel (release)"
rm -rf "$WORK/wheels"
(cd bindings/python && "$WORK/venv/bin/maturin" build --release --locked \
  --interpreter "$PY" -o "$WORK/wheels")
"$PY" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
  "$WORK"/wheels/rampart_policy-*.whl

COMMIT=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
# As root, the benchmark runs at nice -10, so that other work on a shared machine takes
# less of the CPU it measures (the load average is printed with the figures all the same).
NICE=()
[ "$(id -u)" = 0 ] && NICE=(nice -n -10)
note "benchmark (rampart $COMMIT)"
"${NICE[@]}" "$PY" bench/bindings/python.py "$WORK/small" --commit "$COMMIT" \
  --json "$WORK/results.json" "$@"
