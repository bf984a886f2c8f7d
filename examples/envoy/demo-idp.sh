#!/bin/sh
# A throwaway identity provider for trying the sidecar's JWT verification (openssl CLI):
#
#   demo-idp.sh keys DIR           DIR/idp.key (RSA 2048) and DIR/jwks.json (its public key,
#                                  kid "demo-rsa"), for `rampart serve --jwks DIR/jwks.json`
#   demo-idp.sh token DIR CLAIMS   prints an RS256 token over the JSON object CLAIMS
#
#   demo-idp.sh token certs "{\"sub\":\"ledger\",\"scope\":\"payments:read\",
#                             \"iat\":$(date +%s),\"exp\":$(( $(date +%s) + 900 ))}"
#
# For local tries only: the key is unencrypted and anyone with DIR can mint tokens.
set -eu
KID=demo-rsa

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

case ${1:-} in
keys)
  dir=$2
  mkdir -p "$dir"
  [ -f "$dir/idp.key" ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$dir/idp.key" 2>/dev/null
  # The DER public key of an RSA-2048 key with e = 65537 is 294 bytes: a 33-byte header,
  # the 256-byte modulus, then the exponent (AQAB).
  openssl pkey -in "$dir/idp.key" -pubout -outform DER -out "$dir/idp.pub.der"
  [ "$(wc -c <"$dir/idp.pub.der")" -eq 294 ] || { echo "unexpected public key layout" >&2; exit 1; }
  n=$(tail -c +34 "$dir/idp.pub.der" | head -c 256 | b64url)
  printf '{"keys":[{"kty":"RSA","kid":"%s","alg":"RS256","use":"sig","n":"%s","e":"AQAB"}]}\n' \
    "$KID" "$n" >"$dir/jwks.json"
  rm -f "$dir/idp.pub.der"
  ;;
token)
  dir=$2
  header=$(printf '{"alg":"RS256","typ":"JWT","kid":"%s"}' "$KID" | b64url)
  payload=$(printf '%s' "$3" | b64url)
  signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$dir/idp.key" | b64url)
  printf '%s.%s.%s\n' "$header" "$payload" "$signature"
  ;;
*)
  echo "usage: demo-idp.sh keys DIR | demo-idp.sh token DIR CLAIMS_JSON" >&2
  exit 2
  ;;
esac
