#!/bin/sh
# Installs the real services the fleet tests (cli/tests/fleet_*.rs) start on loopback:
#
#   redis-server     Redis 7 (shared rate limits, --rate-limit-store)
#   docker-registry  CNCF distribution 2.8, an OCI registry (rampart push, serve oci://…)
#   rsyslogd         rsyslog 8 with its OpenSSL stream driver (--decision-log-sink syslog+tls://…)
#   promtool         Prometheus 2 and its rule tester (deploy/prometheus/)
#   prometheus
#   postgresql       PostgreSQL 15 (rampart-sql's differential test, sql/tests/differential.rs;
#                    it runs initdb and pg_ctl from /usr/lib/postgresql/15/bin itself)
#
# Debian packages, installed with apt-get when a command is missing (CI runs as root). The
# packages start no service here (no init system); each test starts its own instance with
# its own config and data directory in a temp dir, and stops it by PID. Idempotent: a
# second run installs nothing. Exits 1, after printing everything, when one is missing.
set -eu

PACKAGES=""
need() { # COMMAND PACKAGE
  if ! command -v "$1" >/dev/null 2>&1; then PACKAGES="$PACKAGES $2"; fi
}
need redis-server redis-server
need docker-registry docker-registry
need rsyslogd rsyslog
need promtool prometheus
need prometheus prometheus
OSSL=$(ls /usr/lib/*/rsyslog/lmnsd_ossl.so 2>/dev/null | head -n 1 || true)
if [ -z "$OSSL" ]; then PACKAGES="$PACKAGES rsyslog-openssl"; fi
PG_BIN=/usr/lib/postgresql/15/bin
if [ ! -x "$PG_BIN/initdb" ]; then PACKAGES="$PACKAGES postgresql"; fi

if [ -n "$PACKAGES" ]; then
  printf 'services-setup: installing%s\n' "$PACKAGES"
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=""; fi
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086 # the package list is meant to split
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
fi

MISSING=""
for cmd in redis-server redis-cli docker-registry rsyslogd promtool prometheus; do
  if path=$(command -v "$cmd"); then
    printf 'services-setup: %-16s %s\n' "$cmd" "$path"
  else
    MISSING="$MISSING $cmd"
  fi
done
if ! ls /usr/lib/*/rsyslog/lmnsd_ossl.so >/dev/null 2>&1; then MISSING="$MISSING rsyslog-openssl"; fi
for tool in initdb pg_ctl; do
  if [ -x "$PG_BIN/$tool" ]; then
    printf 'services-setup: %-16s %s\n' "$tool" "$PG_BIN/$tool"
  else
    MISSING="$MISSING $PG_BIN/$tool"
  fi
done
if [ -n "$MISSING" ]; then
  printf 'services-setup: MISSING%s\n' "$MISSING" >&2
  exit 1
fi
