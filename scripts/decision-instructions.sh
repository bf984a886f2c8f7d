#!/usr/bin/env bash
# Instructions per decision of Rampart on one workload, counted by valgrind's callgrind:
# independent of the machine's load (unlike wall or CPU time on a shared 2-core host), so
# two commits compare exactly. A measurement, never a test.
#
#   scripts/decision-instructions.sh [WORKLOAD...]   (default: small gateway scale-1k)
#
# Runs `spin_decide WORKLOAD rampart N` (bench/examples/spin_decide.rs) once with N=0 and
# once with N=DECISIONS (default 200000) and divides the difference by N, so generating
# the workload and loading the engine cancel out. Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
DECISIONS="${DECISIONS:-200000}"
[ $# -gt 0 ] || set -- small gateway scale-1k
command -v valgrind >/dev/null || { echo "decision-instructions: needs valgrind" >&2; exit 2; }
cargo build --release --locked -q -p rampart-bench --example spin_decide >&2
BIN=target/release/examples/spin_decide
total() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$1" rampart "$2" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for workload in "$@"; do
  base=$(total "$workload" 0)
  full=$(total "$workload" "$DECISIONS")
  echo "$workload: $(( (full - base) / DECISIONS )) instructions per decision ($DECISIONS decisions)"
done
