#!/usr/bin/env bash
# The two commands of this project:
#   bash run.sh demo   set up (first time) and run the pipeline on built-in sample data in ./demo
#   bash run.sh test   set up (first time) and run the whole test suite
# Needs only Python 3.11 and access to PyPI. Everything installed comes from requirements.lock.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

# Installs requirements.lock with uv when uv can be had (a newcomer's set-up in seconds instead of minutes):
# uv itself comes from PyPI through the venv's pip, its version pinned in the lock and every wheel's
# hash in requirements-uv.txt. Without uv (no wheel for this platform, a hash that does not match,
# an index only pip is configured for, HAZARDNET_INSTALLER=pip) pip installs the same lock.
LOCK_DIGEST_FILES="requirements.lock requirements-uv.txt pyproject.toml"

uv_available() {
  [ "${HAZARDNET_INSTALLER:-uv}" != pip ] || return 1
  local want
  want=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements-uv.txt)
  if [ -x .venv/bin/uv ] && [ "$(.venv/bin/uv --version 2>/dev/null | cut -d' ' -f2)" = "$want" ]; then
    return 0
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
    -r requirements-uv.txt
}

install_with_uv() {
  # sync: exactly the lock, nothing else left in .venv (uv itself is in the lock); then the project, editable.
  .venv/bin/uv pip sync --quiet --python .venv/bin/python --compile-bytecode requirements.lock &&
    .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps --compile-bytecode -e .
}

install_with_pip() {
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
}

setup() {
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  local want have
  want=$(sha256sum $LOCK_DIGEST_FILES | sha256sum | cut -c1-64)
  have=$(cat .venv/.installed 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    if uv_available; then
      install_with_uv || { echo "run.sh: uv 安装失败，改用 pip 安装 requirements.lock（较慢）" >&2; install_with_pip; }
    else
      [ "${HAZARDNET_INSTALLER:-uv}" = pip ] ||
        echo "run.sh: 无法获得 uv，改用 pip 安装 requirements.lock（较慢）" >&2
      install_with_pip
    fi
    echo "$want" > .venv/.installed
  fi
}

cmd=${1:-demo}
shift || true
case "$cmd" in
  demo)
    setup
    exec .venv/bin/hazardnet demo "$@"
    ;;
  test)
    setup
    bash scripts/ensure_postgres.sh   # the store tests also run against a real PostgreSQL server
    exec .venv/bin/python -m pytest "$@"
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: bash run.sh demo|test|setup [args]" >&2
    exit 2
    ;;
esac
