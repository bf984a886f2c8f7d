# Sourced by the scripts that need a Python venv (python-package.sh, e2e-setup.sh,
# bench-python.sh): `make_venv DIR` creates a venv with pip in it, or says why it cannot.
#
# `python3 -m venv` hides what went wrong when its pip bootstrap (ensurepip) fails: it prints
# only "Command [...ensurepip...] returned non-zero exit status 1". So the venv is made
# without pip, ensurepip is run with its output kept, and when it fails the output is shown,
# with the free space where it writes, and pip is installed into the venv by the host's own
# pip (`pip --python`, pip >= 22.3) from PyPI instead. A machine whose Debian python3 lacks
# the venv module gets python3-venv when apt-get can install it (CI runs as root).

make_venv() {
  _venv_dir=$1
  rm -rf "$_venv_dir"
  if ! python3 -m venv --without-pip "$_venv_dir" 2>"$_venv_dir.log"; then
    cat "$_venv_dir.log" >&2
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      printf 'venv: python3 has no venv module; installing python3-venv\n' >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends python3-venv >/dev/null
    fi
    rm -rf "$_venv_dir"
    python3 -m venv --without-pip "$_venv_dir"
  fi
  if "$_venv_dir/bin/python" -m ensurepip --upgrade --default-pip >"$_venv_dir.log" 2>&1; then
    rm -f "$_venv_dir.log"
    return 0
  fi
  printf 'venv: ensurepip failed in %s:\n' "$_venv_dir" >&2
  tail -n 20 "$_venv_dir.log" >&2
  df -h "$_venv_dir" "${TMPDIR:-/tmp}" >&2 || true
  printf 'venv: installing pip into it with the host pip instead\n' >&2
  python3 -m pip --python "$_venv_dir/bin/python" install --quiet --disable-pip-version-check pip
  rm -f "$_venv_dir.log"
}
