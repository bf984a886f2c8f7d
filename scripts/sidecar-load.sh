#!/usr/bin/env bash
# The load benchmark of `rampart serve` (issue 4's targets; results in docs/performance.md,
# "Sidecar under load"). A benchmark, never a test: it prints figures next to the targets
# and fails only when something could not be measured.
#
#   scripts/sidecar-load.sh [--quick] [--no-pin] [--only reload]
#
# In one run, on loopback:
#   1. ext_authz: h2load sends a pre-framed CheckRequest (sidecar/examples/
#      frame_check_request.rs) at full speed to an empty ext_authz server (sidecar/examples/
#      empty_ext_authz.rs: the same tonic + envoy-types stack answering OK) and to
#      `rampart serve cli/tests/fixtures/gateway --decision-log FILE`, in turns (the
#      `rampart` binary allocates with mimalloc, built in);
#   2. h2load at half of the sidecar's throughput, paced (--rps), against the sidecar and
#      the empty server alike: latency percentiles from h2load's per-request log;
#   3. POST /v1/decide against Cerbos's POST /api/check/resources on the same policy
#      (scripts/load/policy, scripts/load/cerbos), after checking that both decide alike;
#   4. wrk through a real Envoy to a direct_response route, on a listener with the ext_authz
#      filter (the sidecar) and on one without: the latency the sidecar adds;
#   5. reload under load (issue 13): `rampart serve` on the 10k-rule set of `rampart-bench
#      emit scale-10k`, rampart.v1 Decide at full speed, then paced at half that rate while
#      scripts/load/reload_driver.py rewrites a policy file and sends SIGHUP, RELOADS times;
#      report.py compares the p99 of the requests that overlap a swap with the p99 of the
#      others (see "reload phase" there). --only reload runs this phase alone.
# Each timed phase lasts 10 s, in three rounds taken in turns (--quick: 2 s, one round);
# report.py gives the best round of each. Figures go to standard output and
# target/sidecar-load.json; logs and inputs to target/sidecar-load/ (the decision logs,
# hundreds of MB, are verified and then deleted).
#
# Pinning (default): every server runs on CPU 0 and every load generator on CPU 1 (taskset),
# so that on a 2-core machine the client never takes CPU from the server it measures and
# each ratio compares what the servers cost per request on one core. Tokio and Go size
# their thread pools from the CPUs they may use, so both run one worker there. --no-pin
# lets the scheduler place everything on both cores (the client then competes with the
# server). The Envoy phase pins Envoy and wrk to CPU 1 and the sidecar to CPU 0.
#
# Run as root, every process started here also runs at nice -10, so that other work on a
# shared machine takes less of the measured CPUs for the few minutes of the run (the load
# average is recorded before each phase all the same).
#
# Needs what scripts/e2e-setup.sh --load installs (run here; idempotent) and builds
# `rampart` and the two examples in release.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

QUICK=""
PIN=1
ONLY=""
usage() { printf 'usage: scripts/sidecar-load.sh [--quick] [--no-pin] [--only reload]\n' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --no-pin) PIN="" ;;
    --only)
      [ "${2:-}" = reload ] || usage
      ONLY=reload
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) usage ;;
  esac
  shift
done
if [ -n "$QUICK" ]; then DURATION=2; WARMUP=500ms; ROUNDS=1; else DURATION=10; WARMUP=1s; ROUNDS=3; fi
# The reload phase: paced load for RELOAD_SECONDS, the first reload FIRST_RELOAD_S in and the
# next ones RELOAD_EVERY_S apart (from one's start to the next one's).
if [ -n "$QUICK" ]; then
  RELOAD_SECONDS=5; RELOADS=2; FIRST_RELOAD_S=1.5; RELOAD_EVERY_S=2
else
  RELOAD_SECONDS=30; RELOADS=8; FIRST_RELOAD_S=2; RELOAD_EVERY_S=3.5
fi

WORK="$REPO/target/sidecar-load"
BIN="$REPO/target/e2e/bin"
# The release binaries: under CARGO_TARGET_DIR when it is set (a shared target dir).
RELEASE="${CARGO_TARGET_DIR:-$REPO/target}/release"
# h2load: 4 connections of 16 streams each, one thread (Envoy multiplexes its checks over
# one HTTP/2 connection per worker the same way).
H2LOAD_CLIENTS=4
H2LOAD_STREAMS=16
# /v1/decide and Cerbos over HTTP/1.1 keep-alive, 16 connections.
HTTP_CLIENTS=16
# The paced phase: h2load's --rps timer fires every 10 ms at the least and sends what is
# due in one burst, so a few fast clients would send bursts of dozens of requests. Ten
# clients started 1 ms apart (-r 1 --rate-period 1ms) spread the bursts over every
# millisecond instead: about rate/1000 requests each millisecond.
PACED_CLIENTS=10
note() { printf 'sidecar-load: %s\n' "$*" >&2; }
fail() { note "$*"; exit 1; }

# --- processes: every one started here is stopped on exit, by its id ---------------------
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PRIORITY=""
[ "$(id -u)" = 0 ] && PRIORITY="nice -n -10 "
server_cpus() { printf '%s' "$PRIORITY"; [ -n "$PIN" ] && printf 'taskset -c 0 '; true; }
client_cpus() { printf '%s' "$PRIORITY"; [ -n "$PIN" ] && printf 'taskset -c 1 '; true; }

# start NAME CPU_PREFIX COMMAND...: runs COMMAND in the background, output to WORK/NAME.log.
start() {
  local name=$1 cpus=$2
  shift 2
  # shellcheck disable=SC2086 # the taskset prefix is meant to split
  $cpus "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  LAST_PID=$!
}

stop() {
  local pid=$1 rest=() p
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
  PIDS=("${rest[@]}")
}

# wait_for_line NAME PATTERN: the first line of WORK/NAME.log matching PATTERN (30 s at most).
wait_for_line() {
  local line
  for _ in $(seq 1 300); do
    line=$(grep -m 1 -E "$2" "$WORK/$1.log" 2>/dev/null || true)
    if [ -n "$line" ]; then printf '%s\n' "$line"; return 0; fi
    kill -0 "$LAST_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WORK/$1.log" >&2
  fail "$1 did not start"
}

# wait_for_http URL: until a GET answers 200 (30 s at most).
wait_for_http() {
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ] && return 0
    sleep 0.1
  done
  fail "no answer from $1"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

load_average() { cut -d ' ' -f 1-3 /proc/loadavg; }

# h2load_rps FILE: requests per second from h2load's summary.
h2load_rps() { awk '/^finished in/ { print $4 }' "$1"; }

# metric ADDR NAME_AND_LABELS: one value of the sidecar's /metrics (0 when absent).
metric() {
  curl -s "http://$1/metrics" | awk -v m="$2" 'index($0, m " ") == 1 { v = $2 } END { print v + 0 }'
}

# --- peers and builds ---------------------------------------------------------------------
note "peers (scripts/e2e-setup.sh --load)"
sh scripts/e2e-setup.sh --load >&2 || fail "a peer is missing (see above)"
note "release build: rampart, rampart-bench, empty_ext_authz, frame_check_request"
cargo build --release --locked -q -p rampart-cli --bin rampart >&2
# Apart: built together, the two would share features of common dependencies, and each
# would be rebuilt whenever the other's change.
cargo build --release --locked -q -p rampart-bench --bin rampart-bench >&2
cargo build --release --locked -q -p rampart-sidecar --example empty_ext_authz --example frame_check_request >&2
RAMPART="$RELEASE/rampart"
BENCH="$RELEASE/rampart-bench"
EMPTY="$RELEASE/examples/empty_ext_authz"
FRAME="$RELEASE/examples/frame_check_request"

rm -rf "$WORK"
mkdir -p "$WORK"
cat >"$WORK/run.env" <<EOF
quick=${QUICK:-0}
pinned=${PIN:-0}
priority=${PRIORITY:-none}
duration_s=$DURATION
warmup=$WARMUP
rounds=$ROUNDS
h2load_clients=$H2LOAD_CLIENTS
h2load_streams=$H2LOAD_STREAMS
http_clients=$HTTP_CLIENTS
only=${ONLY:-all}
load_before=$(load_average)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
EOF

GRPC_HEADERS=(-H 'content-type: application/grpc' -H 'te: trailers')
CHECK_PATH=/envoy.service.auth.v3.Authorization/Check

# check_once ADDR NAME: one Check with curl; prints the decoded answer ("allow 200").
check_once() {
  curl -s --http2-prior-knowledge "${GRPC_HEADERS[@]}" --data-binary @"$WORK/check.grpc" \
    -D "$WORK/$2.head" -o "$WORK/$2.body" "http://$1$CHECK_PATH" ||
    fail "$2: the Check request failed"
  grep -qi '^grpc-status: 0' "$WORK/$2.head" || fail "$2: no grpc-status 0 in $(cat "$WORK/$2.head")"
  "$FRAME" decode "$WORK/$2.body"
}

# h2load_max ADDR OUT: full-speed Checks for DURATION seconds.
h2load_max() {
  # shellcheck disable=SC2046 # the taskset prefix is meant to split
  $(client_cpus) "$BIN/h2load" -D "$DURATION" --warm-up-time="$WARMUP" -t 1 \
    -c "$H2LOAD_CLIENTS" -m "$H2LOAD_STREAMS" -d "$WORK/check.grpc" "${GRPC_HEADERS[@]}" \
    "http://$1$CHECK_PATH" >"$WORK/$2.txt" 2>&1 || true
  grep -q '^finished in' "$WORK/$2.txt" || { cat "$WORK/$2.txt" >&2; fail "h2load failed ($2)"; }
}

# --- 5. a reload of the 10k-rule set under load (defined here, run last) ------------------
DECIDE_PATH=/rampart.v1.Decisions/Decide

# decide_once ADDR NAME: one Decide with curl; prints the decoded answer ("allow REVISION").
decide_once() {
  curl -s --http2-prior-knowledge "${GRPC_HEADERS[@]}" --data-binary @"$WORK/$2.grpc" \
    -D "$WORK/$2.head" -o "$WORK/$2.body" "http://$1$DECIDE_PATH" || fail "$2: the Decide request failed"
  grep -qi '^grpc-status: 0' "$WORK/$2.head" || fail "$2: no grpc-status 0 in $(cat "$WORK/$2.head")"
  "$FRAME" decode-decide "$WORK/$2.body"
}

reload_phase() {
  note "reload: rampart serve on scale-10k (rampart-bench emit)"
  local set="$WORK/scale-10k" n=0 line answer chosen="" rps per_client
  "$BENCH" emit scale-10k "$set" >"$WORK/reload-emit.txt"
  python3 -B scripts/load/reload_driver.py marker "$set/rampart" 0
  start reload-sidecar "$(server_cpus)" "$RAMPART" serve "$set/rampart" --entities "$set/entities.json" \
    --grpc 127.0.0.1:0 --http 127.0.0.1:0 --no-watch --decision-log "$WORK/reload-decisions.jsonl"
  local pid=$LAST_PID ready grpc http
  ready=$(wait_for_line reload-sidecar 'ready grpc=')
  grpc=$(printf '%s' "$ready" | sed 's/.*grpc=\([^ ]*\).*/\1/')
  http=$(printf '%s' "$ready" | sed 's/.*http=\([^ ]*\).*/\1/')
  # The first of the workload's requests the set allows (the first one when none does).
  while IFS= read -r line; do
    n=$((n + 1))
    printf '%s\n' "$line" >"$WORK/reload-request-$n.json"
    "$FRAME" decide "$WORK/reload-request-$n.json" "$WORK/reload-request-$n.grpc" >/dev/null
    answer=$(decide_once "$grpc" "reload-request-$n")
    [ -z "$chosen" ] && chosen=$n
    case $answer in allow*) chosen=$n; break ;; esac
  done <"$set/rampart-requests.jsonl"
  [ -n "$chosen" ] || fail "rampart-bench emit wrote no request"
  cp "$WORK/reload-request-$chosen.json" "$WORK/reload-request.json"
  cp "$WORK/reload-request-$chosen.grpc" "$WORK/reload.grpc"
  echo "reload_answer=$(decide_once "$grpc" reload)" >>"$WORK/run.env"

  note "reload: Decide at full speed (${DURATION}s)"
  echo "load_reload=$(load_average)" >>"$WORK/run.env"
  # shellcheck disable=SC2046 # the taskset prefix is meant to split
  $(client_cpus) "$BIN/h2load" -D "$DURATION" --warm-up-time="$WARMUP" -t 1 \
    -c "$H2LOAD_CLIENTS" -m "$H2LOAD_STREAMS" -d "$WORK/reload.grpc" "${GRPC_HEADERS[@]}" \
    "http://$grpc$DECIDE_PATH" >"$WORK/reload-max.txt" 2>&1 || true
  grep -q '^finished in' "$WORK/reload-max.txt" || { cat "$WORK/reload-max.txt" >&2; fail "h2load failed (reload-max)"; }
  rps=$(h2load_rps "$WORK/reload-max.txt")
  per_client=$(awk -v r="$rps" -v c="$PACED_CLIENTS" 'BEGIN { printf "%d", r / 2 / c }')
  [ "$per_client" -gt 0 ] || fail "the sidecar's Decide throughput on scale-10k is 0"

  # One reload with no load, for its duration alone.
  # shellcheck disable=SC2046 # the taskset prefix is meant to split
  $(client_cpus) python3 -B scripts/load/reload_driver.py run "$pid" "$set/rampart" \
    "$WORK/reload-sidecar.log" "$WORK/reload-idle.tsv" 0 0 1 || fail "the idle reload failed"

  note "reload: $((per_client * PACED_CLIENTS)) Decides/s for ${RELOAD_SECONDS}s, $RELOADS reloads (SIGHUP)"
  {
    echo "reload_half_rate=$((per_client * PACED_CLIENTS))"
    echo "reload_seconds=$RELOAD_SECONDS"
    echo "reloads=$RELOADS"
    echo "reload_first_s=$FIRST_RELOAD_S"
    echo "reload_every_s=$RELOAD_EVERY_S"
    echo "reloads_before=$(metric "$http" 'rampart_reloads_total{result="success"}')"
  } >>"$WORK/run.env"
  # shellcheck disable=SC2046 # the taskset prefix is meant to split
  $(client_cpus) python3 -B scripts/load/reload_driver.py run "$pid" "$set/rampart" \
    "$WORK/reload-sidecar.log" "$WORK/reload-events.tsv" "$FIRST_RELOAD_S" "$RELOAD_EVERY_S" \
    "$RELOADS" >"$WORK/reload-driver.txt" 2>&1 &
  local driver=$!
  # shellcheck disable=SC2046 # the taskset prefix is meant to split
  $(client_cpus) "$BIN/h2load" -n $((per_client * PACED_CLIENTS * RELOAD_SECONDS)) -t 1 \
    -c "$PACED_CLIENTS" -m "$H2LOAD_STREAMS" --rps "$per_client" -r 1 --rate-period 1ms \
    -d "$WORK/reload.grpc" "${GRPC_HEADERS[@]}" --log-file "$WORK/reload-paced.log" \
    "http://$grpc$DECIDE_PATH" >"$WORK/reload-paced.txt" 2>&1 || true
  wait "$driver" || { cat "$WORK/reload-driver.txt" >&2; fail "a reload under load failed"; }
  grep -q '^finished in' "$WORK/reload-paced.txt" || { cat "$WORK/reload-paced.txt" >&2; fail "h2load --rps failed (reload-paced)"; }
  {
    echo "reloads_after=$(metric "$http" 'rampart_reloads_total{result="success"}')"
    echo "reload_grpc_decisions=$(($(metric "$http" 'rampart_decisions_total{door="grpc",effect="allow"}') +
      $(metric "$http" 'rampart_decisions_total{door="grpc",effect="deny"}')))"
    echo "load_reload_after=$(load_average)"
  } >>"$WORK/run.env"
  stop "$pid"
  rm -f "$WORK/reload-decisions.jsonl"
}

if [ "$ONLY" = reload ]; then
  reload_phase
  python3 -B scripts/load/report.py "$WORK" "$REPO/target/sidecar-load.json"
  exit 0
fi

# --- 1. ext_authz: empty server and sidecar at full speed ---------------------------------
note "ext_authz: frame, empty server, sidecar"
"$FRAME" write "$WORK/check.grpc" >"$WORK/frame.txt"
start empty "$(server_cpus)" "$EMPTY" 127.0.0.1:0
EMPTY_PID=$LAST_PID
EMPTY_ADDR=$(wait_for_line empty 'ready grpc=' | sed 's/.*grpc=//')
start sidecar "$(server_cpus)" "$RAMPART" serve cli/tests/fixtures/gateway \
  --grpc 127.0.0.1:0 --http 127.0.0.1:0 --decision-log "$WORK/decisions.jsonl"
SIDECAR_PID=$LAST_PID
READY=$(wait_for_line sidecar 'ready grpc=')
SIDECAR_GRPC=$(printf '%s' "$READY" | sed 's/.*grpc=\([^ ]*\).*/\1/')
SIDECAR_HTTP=$(printf '%s' "$READY" | sed 's/.*http=\([^ ]*\).*/\1/')
[ "$(check_once "$EMPTY_ADDR" empty-check)" = "allow 200" ] || fail "the empty server did not allow"
[ "$(check_once "$SIDECAR_GRPC" sidecar-check)" = "allow 200" ] ||
  fail "the sidecar did not allow the framed request: $(tail -n 1 "$WORK/decisions.jsonl")"

ALLOWS_BEFORE=$(metric "$SIDECAR_HTTP" 'rampart_decisions_total{door="ext_authz",effect="allow"}')
echo "load_ext_authz=$(load_average)" >>"$WORK/run.env"
for round in $(seq 1 "$ROUNDS"); do
  note "ext_authz round $round/$ROUNDS: empty server, then the sidecar (${DURATION}s each)"
  h2load_max "$EMPTY_ADDR" "empty-$round"
  h2load_max "$SIDECAR_GRPC" "sidecar-$round"
done

# --- 2. latency at half the sidecar's throughput, the empty server at the same rate --------
# Half of the best round, the figure report.py gives as the sidecar's throughput.
SIDECAR_RPS=$(for round in $(seq 1 "$ROUNDS"); do h2load_rps "$WORK/sidecar-$round.txt"; done |
  awk '$1 > m { m = $1 } END { printf "%d", m }')
HALF_PER_CLIENT=$((SIDECAR_RPS / 2 / PACED_CLIENTS))
[ "$HALF_PER_CLIENT" -gt 0 ] || fail "the sidecar's throughput is 0"
HALF_RATE=$((HALF_PER_CLIENT * PACED_CLIENTS))
echo "half_rate=$HALF_RATE" >>"$WORK/run.env"

# h2load_paced ADDR OUT: HALF_RATE Checks a second for DURATION seconds, each logged.
h2load_paced() {
  # shellcheck disable=SC2046 # the taskset prefix is meant to split
  $(client_cpus) "$BIN/h2load" -n $((HALF_RATE * DURATION)) -t 1 -c "$PACED_CLIENTS" \
    -m "$H2LOAD_STREAMS" --rps "$HALF_PER_CLIENT" -r 1 --rate-period 1ms \
    -d "$WORK/check.grpc" "${GRPC_HEADERS[@]}" --log-file "$WORK/$2.log" \
    "http://$1$CHECK_PATH" >"$WORK/$2.txt" 2>&1 || true
  grep -q '^finished in' "$WORK/$2.txt" || { cat "$WORK/$2.txt" >&2; fail "h2load --rps failed ($2)"; }
}
note "ext_authz at half throughput: $HALF_RATE checks/s, the sidecar, then the empty server"
h2load_paced "$SIDECAR_GRPC" half-sidecar
h2load_paced "$EMPTY_ADDR" half-empty
stop "$EMPTY_PID"

# Every Check was decided (allowed) and logged: the sidecar's counters against h2load's.
ALLOWS_AFTER=$(metric "$SIDECAR_HTTP" 'rampart_decisions_total{door="ext_authz",effect="allow"}')
DENIES=$(metric "$SIDECAR_HTTP" 'rampart_decisions_total{door="ext_authz",effect="deny"}')
DROPPED=$(($(metric "$SIDECAR_HTTP" 'rampart_decision_log_dropped_total{reason="queue_full"}') +
  $(metric "$SIDECAR_HTTP" 'rampart_decision_log_dropped_total{reason="write_error"}')))
stop "$SIDECAR_PID"
{
  echo "sidecar_allows=$((ALLOWS_AFTER - ALLOWS_BEFORE))"
  echo "sidecar_denies=$DENIES"
  echo "log_dropped=$DROPPED"
  echo "log_records=$(grep -c '^{"id":' "$WORK/decisions.jsonl")"
  echo "log_bytes=$(wc -c <"$WORK/decisions.jsonl")"
} >>"$WORK/run.env"
"$RAMPART" log verify "$WORK/decisions.jsonl" >"$WORK/log-verify.txt" 2>&1 ||
  fail "the decision log does not verify: $(cat "$WORK/log-verify.txt")"
# A full run logs hundreds of MB: keep the last records as a sample.
tail -n 3 "$WORK/decisions.jsonl" >"$WORK/decisions.tail.jsonl"
rm -f "$WORK/decisions.jsonl"

# --- 3. POST /v1/decide against Cerbos ----------------------------------------------------
note "decide: rampart serve scripts/load/policy and Cerbos on the same policy"
start decide "$(server_cpus)" "$RAMPART" serve scripts/load/policy \
  --grpc 127.0.0.1:0 --http 127.0.0.1:0 --decision-log "$WORK/decide-decisions.jsonl"
DECIDE_PID=$LAST_PID
DECIDE_HTTP=$(wait_for_line decide 'ready grpc=' | sed 's/.*http=\([^ ]*\).*/\1/')
CERBOS_HTTP="127.0.0.1:$(free_port)"
mkdir -p "$WORK/cerbos"
(cd "$WORK/cerbos" && exec env CERBOS_NO_TELEMETRY=1 $(server_cpus) "$BIN/cerbos" server \
  --set=server.httpListenAddr="$CERBOS_HTTP" --set=server.grpcListenAddr="127.0.0.1:$(free_port)" \
  --set=storage.driver=disk --set=storage.disk.directory="$REPO/scripts/load/cerbos" \
  --set=storage.disk.watchForChanges=false --set=telemetry.disabled=true --log-level=warn) \
  >"$WORK/cerbos.log" 2>&1 &
PIDS+=("$!")
CERBOS_PID=$!
wait_for_http "http://$CERBOS_HTTP/_cerbos/health"
python3 -B scripts/load/agree.py "$DECIDE_HTTP" "$CERBOS_HTTP" "$WORK" >"$WORK/agree.txt" 2>&1 ||
  { cat "$WORK/agree.txt" >&2; fail "Rampart and Cerbos do not decide alike"; }

# h2load_http ADDR PATH BODY OUT: full-speed JSON POSTs over HTTP/1.1.
h2load_http() {
  # shellcheck disable=SC2046 # the taskset prefix is meant to split
  $(client_cpus) "$BIN/h2load" --h1 -D "$DURATION" --warm-up-time="$WARMUP" -t 1 \
    -c "$HTTP_CLIENTS" -m 1 -d "$3" -H 'content-type: application/json' \
    "http://$1$2" >"$WORK/$4.txt" 2>&1 || true
  grep -q '^finished in' "$WORK/$4.txt" || { cat "$WORK/$4.txt" >&2; fail "h2load failed ($4)"; }
}
echo "load_decide=$(load_average)" >>"$WORK/run.env"
for round in $(seq 1 "$ROUNDS"); do
  note "decide round $round/$ROUNDS: Cerbos, then the sidecar (${DURATION}s each)"
  h2load_http "$CERBOS_HTTP" /api/check/resources "$WORK/cerbos.json" "cerbos-$round"
  h2load_http "$DECIDE_HTTP" /v1/decide "$WORK/decide.json" "decide-$round"
done
stop "$CERBOS_PID"
stop "$DECIDE_PID"
rm -f "$WORK/decide-decisions.jsonl"

# --- 4. through a real Envoy, with and without ext_authz ----------------------------------
note "envoy: the sidecar behind Envoy 1.40, wrk with and without ext_authz"
start sidecar-envoy "$(server_cpus)" "$RAMPART" serve cli/tests/fixtures/gateway \
  --grpc 127.0.0.1:0 --http 127.0.0.1:0 --decision-log "$WORK/envoy-decisions.jsonl"
ENVOY_SIDECAR_PID=$LAST_PID
ENVOY_SIDECAR_GRPC=$(wait_for_line sidecar-envoy 'ready grpc=' | sed 's/.*grpc=\([^ ]*\).*/\1/')
ADMIN_PORT=$(free_port)
PLAIN_PORT=$(free_port)
AUTHZ_PORT=$(free_port)
sed -e "s/@ADMIN@/$ADMIN_PORT/" -e "s/@PLAIN@/$PLAIN_PORT/" -e "s/@AUTHZ@/$AUTHZ_PORT/" \
  -e "s/@SIDECAR@/${ENVOY_SIDECAR_GRPC##*:}/" scripts/load/envoy.yaml >"$WORK/envoy.yaml"
start envoy "$(client_cpus)" "$BIN/envoy" -c "$WORK/envoy.yaml" --concurrency 1 \
  --disable-hot-restart --log-level warn
wait_for_http "http://127.0.0.1:$ADMIN_PORT/ready"
SERVICE=(-H 'x-service: spiffe://corp/docs-editor')
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(status_of "${SERVICE[@]}" "http://127.0.0.1:$AUTHZ_PORT/docs/handbook")" = 200 ] ||
  fail "Envoy with ext_authz did not pass the allowed request"
[ "$(status_of "http://127.0.0.1:$AUTHZ_PORT/docs/handbook")" = 401 ] ||
  fail "Envoy with ext_authz did not deny a request without a service"
[ "$(status_of "http://127.0.0.1:$PLAIN_PORT/docs/handbook")" = 200 ] ||
  fail "Envoy without ext_authz did not answer"

# wrk_run PORT CONNECTIONS OUT
wrk_run() {
  # shellcheck disable=SC2046 # the taskset prefix is meant to split
  $(client_cpus) "$BIN/wrk" -t 1 -c "$2" -d "${DURATION}s" --latency "${SERVICE[@]}" \
    "http://127.0.0.1:$1/docs/handbook" >"$WORK/$3.txt" 2>&1 || true
  grep -q '^Requests/sec' "$WORK/$3.txt" || { cat "$WORK/$3.txt" >&2; fail "wrk failed ($3)"; }
}
echo "load_envoy=$(load_average)" >>"$WORK/run.env"
# Warm both paths (connections to the sidecar, Envoy's caches) before timing.
"$BIN/wrk" -t 1 -c 1 -d 1s "${SERVICE[@]}" "http://127.0.0.1:$AUTHZ_PORT/docs/handbook" >/dev/null 2>&1 || true
"$BIN/wrk" -t 1 -c 1 -d 1s "${SERVICE[@]}" "http://127.0.0.1:$PLAIN_PORT/docs/handbook" >/dev/null 2>&1 || true
for round in $(seq 1 "$ROUNDS"); do
  note "envoy round $round/$ROUNDS: 1 connection, then 16 (${DURATION}s each, without then with ext_authz)"
  wrk_run "$PLAIN_PORT" 1 "envoy-plain-c1-$round"
  wrk_run "$AUTHZ_PORT" 1 "envoy-authz-c1-$round"
  wrk_run "$PLAIN_PORT" 16 "envoy-plain-c16-$round"
  wrk_run "$AUTHZ_PORT" 16 "envoy-authz-c16-$round"
done
{
  echo "envoy_upstream_denied=$(curl -s "http://127.0.0.1:$ADMIN_PORT/stats" |
    awk -F': ' '/ext_authz.denied/ { s += $2 } END { print s + 0 }')"
  echo "envoy_authz_errors=$(curl -s "http://127.0.0.1:$ADMIN_PORT/stats" |
    awk -F': ' '/ext_authz.error/ { s += $2 } END { print s + 0 }')"
  echo "load_after=$(load_average)"
} >>"$WORK/run.env"
cleanup
rm -f "$WORK/envoy-decisions.jsonl"

reload_phase

# --- report -------------------------------------------------------------------------------
python3 -B scripts/load/report.py "$WORK" "$REPO/target/sidecar-load.json"
