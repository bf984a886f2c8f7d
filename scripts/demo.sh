#!/bin/sh
# Builds rampart and runs it on the bundled payments example: check, test, then decide
# one raw-HTTP request and one request naming principal, action and resource.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --locked -p rampart-cli
rampart=target/release/rampart
ex=examples/payments
set -x
$rampart check $ex
$rampart test $ex
$rampart eval $ex --request $ex/requests/pay-owner.json --explain || true
$rampart eval $ex --request $ex/requests/pay-http.json || true
