#!/bin/sh
# Runs the example end to end on loopback: the proxy-wasm filter built from a policy folder
# (default: the gateway policy of the CLI's tests), an echo application on 8080 and a real
# Envoy running the filter (10000 plain, 10443 mTLS). No sidecar. Stop with Ctrl-C.
#
#   examples/envoy-wasm/run.sh [POLICY_DIR]
#
# Needs: envoy (scripts/e2e-setup.sh puts one in target/e2e/bin), openssl, curl, python3,
# and the rampart binary (built with cargo when it is not on PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
policy=${1:-$repo/cli/tests/fixtures/gateway}

envoy=$(command -v envoy || echo "$repo/target/e2e/bin/envoy")
[ -x "$envoy" ] || { echo "no envoy: run scripts/e2e-setup.sh" >&2; exit 1; }
if command -v rampart >/dev/null 2>&1; then
  rampart=rampart
else
  (cd "$repo" && cargo build -q -p rampart-cli)
  rampart=$repo/target/debug/rampart
fi

# The filter module with the policy embedded, and certificates for two services.
work=$repo/target/envoy-wasm-example
mkdir -p "$work"
"$rampart" build "$policy" --target proxy-wasm -o "$work/rampart-filter.wasm"
rm -rf "$work/certs"   # short-lived: made anew on every run
sh "$repo/examples/envoy/make-certs.sh" "$work/certs" \
  docs=spiffe://corp/docs-editor billing=spiffe://corp/billing

pids=""
trap 'kill $pids 2>/dev/null' EXIT
trap 'exit 130' INT TERM
python3 "$repo/examples/envoy/echo-upstream.py" 8080 &
pids="$pids $!"
(cd "$work" && exec "$envoy" -c "$here/envoy.yaml" --concurrency 1 --log-level warn) &
pids="$pids $!"
# V8 compiles the module when Envoy starts: wait for the admin's /ready.
tries=0
until curl -sf -o /dev/null localhost:9901/ready; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "Envoy did not become ready" >&2; exit 1; }
  sleep 0.5
done

cat <<MSG

Envoy with the Rampart filter listens on 127.0.0.1:10000 (plain) and 127.0.0.1:10443 (mTLS).
With the gateway policy, try:

  # a service named by the x-service header: 200, x-rampart-team set upstream,
  # authorization removed, cache-control: no-store on the response
  curl -si localhost:10000/docs/handbook -H 'x-service: spiffe://corp/docs-editor' \\
    -H 'authorization: Bearer x'

  # nobody: 401 and the deny body
  curl -si localhost:10000/docs/handbook

  # the docs editor over mTLS changing a frozen document: 403 naming rule \`frozen\`
  curl -si --cacert $work/certs/ca.pem --cert $work/certs/docs.pem \\
    --key $work/certs/docs.key -X PUT -H 'x-change-ticket: CHG-1' \\
    'https://localhost:10443/docs/handbook?frozen=1'

MSG
wait
