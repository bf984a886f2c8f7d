#!/bin/sh
# Runs the example end to end on loopback: `rampart serve` on a policy folder (default
# examples/payments), an echo application on 8080 and a real Envoy in front (10000 plain,
# 10443 mTLS; envoy.yaml, or envoy-http.yaml with `http`). Stop with Ctrl-C.
#
#   examples/envoy/run.sh [grpc|http] [POLICY_DIR]
#
# Needs: envoy (scripts/e2e-setup.sh puts one in target/e2e/bin), openssl, curl, python3,
# and the rampart binary (built with cargo when it is not on PATH).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mode=${1:-grpc}
policy=${2:-$repo/examples/payments}
case $mode in
grpc) config=$here/envoy.yaml ;;
http) config=$here/envoy-http.yaml ;;
*) echo "usage: run.sh [grpc|http] [POLICY_DIR]" >&2; exit 2 ;;
esac

envoy=$(command -v envoy || echo "$repo/target/e2e/bin/envoy")
[ -x "$envoy" ] || { echo "no envoy: run scripts/e2e-setup.sh" >&2; exit 1; }
if command -v rampart >/dev/null 2>&1; then
  rampart=rampart
else
  (cd "$repo" && cargo build -q -p rampart-cli)
  rampart=$repo/target/debug/rampart
fi

# Certificates (the partner service of the payments example as mTLS client), a demo
# identity provider, and a token for the partner.
work=$repo/target/envoy-example
mkdir -p "$work"
rm -rf "$work/certs"   # short-lived: made anew on every run
sh "$here/make-certs.sh" "$work/certs" ledger=spiffe://partners/ledger
sh "$here/demo-idp.sh" keys "$work/idp"
now=$(date +%s)
token=$(sh "$here/demo-idp.sh" token "$work/idp" \
  "{\"sub\":\"ledger\",\"scope\":\"payments:read\",\"iat\":$now,\"exp\":$((now + 900))}")

pids=""
trap 'kill $pids 2>/dev/null' EXIT
trap 'exit 130' INT TERM
# Envoy's HTTP mode puts the original path after /v1/authz: --forward-auth envoy.
"$rampart" serve "$policy" --jwks "$work/idp/jwks.json" --forward-auth envoy &
pids="$pids $!"
python3 "$here/echo-upstream.py" 8080 &
pids="$pids $!"
(cd "$work" && exec "$envoy" -c "$config" --concurrency 1 --log-level warn) &
pids="$pids $!"
sleep 2

if [ "$mode" = grpc ]; then
  cat <<MSG

Envoy (gRPC ext_authz) listens on 127.0.0.1:10000 (plain) and 127.0.0.1:10443 (mTLS).
With the payments example, try:

  # no credentials: 401 and the deny body
  curl -si localhost:10000/v1/accounts/a2

  # the partner over mTLS, no token: 403 (short-tokens fails closed)
  curl -si --cacert $work/certs/ca.pem --cert $work/certs/ledger.pem \\
    --key $work/certs/ledger.key https://localhost:10443/v1/accounts/a2

  # the partner over mTLS with a 15-minute payments:read token: 200 from the echo app
  curl -si --cacert $work/certs/ca.pem --cert $work/certs/ledger.pem \\
    --key $work/certs/ledger.key -H "authorization: Bearer $token" \\
    https://localhost:10443/v1/accounts/a2

MSG
else
  cat <<MSG

Envoy (HTTP mode, forward-auth) listens on 127.0.0.1:10000. HTTP mode carries no TLS facts,
so the payments example's TLS rules deny everything; try it with the gateway test policy
(examples/envoy/run.sh http cli/tests/fixtures/gateway):

  # a service named by the x-service header: 200, x-rampart-team set, authorization removed
  curl -si localhost:10000/docs/handbook -H 'x-service: spiffe://corp/docs-editor' \\
    -H 'authorization: Bearer x'

  # nobody: 401 and the deny body
  curl -si localhost:10000/docs/handbook

MSG
fi
wait
