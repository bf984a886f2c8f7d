#!/bin/sh
# Writes a throwaway CA, a server certificate for localhost and one client certificate per
# NAME=SPIFFE_ID argument into DIR (openssl CLI; keys are unencrypted, for local tries only):
#
#   make-certs.sh DIR [NAME=SPIFFE_ID ...]
#   make-certs.sh certs ledger=spiffe://partners/ledger
#     -> certs/ca.pem certs/server.pem certs/server.key certs/ledger.pem certs/ledger.key
#
# Envoy reports a client certificate's URI SAN as the peer principal; the sidecar maps it
# to context.tls.peer (and context.tls.mtls = true).
set -eu
[ $# -ge 1 ] || { echo "usage: make-certs.sh DIR [NAME=SPIFFE_ID ...]" >&2; exit 2; }
dir=$1
shift
mkdir -p "$dir"
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME SUBJECT EXTENSIONS: NAME.key and NAME.pem, signed by the CA.
sign() {
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 7 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

if [ ! -f ca.pem ]; then
  key ca.key
  openssl req -x509 -new -key ca.key -subj "/CN=rampart example CA" -days 7 -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
fi
[ -f server.pem ] || sign server "/CN=localhost" \
  "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
for client in "$@"; do
  name=${client%%=*}
  spiffe=${client#*=}
  sign "$name" "/CN=$name" "subjectAltName=URI:$spiffe
extendedKeyUsage=clientAuth"
done
