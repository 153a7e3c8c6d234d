#!/usr/bin/env bash
# The two commands of this project:
#   bash run.sh demo   set up (first time) and run the pipeline on built-in sample data in ./demo
#   bash run.sh test   set up (first time) and run the whole test suite
# Needs only Python 3.11 and access to PyPI. Everything installed comes from requirements.lock.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

# Installs requirements.lock with uv when uv can be had: a newcomer's set-up in seconds instead of minutes.
# uv's version is pinned in the lock and every wheel of it hashed in requirements-uv.txt; pip (Python's
# own, or the venv's) fetches it from PyPI and checks the hash, into .venv/.uv-bootstrap; `uv pip sync`
# then installs exactly the lock (the locked uv included, into .venv/bin) and removes anything else.
# Without uv (no wheel for this platform, a hash that does not match, no pip to fetch it, an index only
# pip is configured for, or HAZARDNET_INSTALLER=pip) pip installs the same lock, as before.
LOCK_DIGEST_FILES="requirements.lock requirements-uv.txt pyproject.toml"
UV=

find_uv() {
  [ "${HAZARDNET_INSTALLER:-uv}" != pip ] || return 1
  local want py
  want=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements-uv.txt)
  for UV in .venv/bin/uv .venv/.uv-bootstrap/bin/uv; do
    if [ -x "$UV" ] && [ "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" = "$want" ]; then return 0; fi
  done
  for py in "$PY" .venv/bin/python ensurepip; do
    if [ "$py" = ensurepip ]; then
      .venv/bin/python -m ensurepip --upgrade >/dev/null 2>&1 || return 1
      py=.venv/bin/python
    fi
    rm -rf .venv/.uv-bootstrap
    # pip's own notes (root user, this machine's extra indexes) are no news here; its errors are shown below
    if PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --quiet --disable-pip-version-check --no-deps \
         --require-hashes --target .venv/.uv-bootstrap -r requirements-uv.txt >.venv/.uv-bootstrap.log 2>&1 &&
       [ -x "$UV" ]; then
      rm -f .venv/.uv-bootstrap.log
      return 0
    fi
  done
  cat .venv/.uv-bootstrap.log >&2
  return 1
}

install_with_uv() {
  "$UV" pip sync --quiet --python .venv/bin/python requirements.lock || return 1
  bytecode_on_first_use
  # uv writes no bytecode (pip writes it for every file it installs: most of pip's time). Write it for what
  # the monthly ingest imports, on both cores while the project goes in; any other module gets its bytecode
  # the first time a command imports it (bytecode_on_first_use). See scripts/warm_bytecode.py.
  local cli workers
  .venv/bin/python scripts/warm_bytecode.py cli & cli=$!
  .venv/bin/python scripts/warm_bytecode.py workers & workers=$!
  .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e . || { wait $cli $workers; return 1; }
  wait $cli $workers || true  # a module not warmed is only compiled later, when first imported
  rm -rf .venv/.uv-bootstrap
}

# Python caches each module's bytecode (.pyc) in this venv even where PYTHONDONTWRITEBYTECODE is set (as on
# build machines): every hazardnet command imports ~1,700 modules, and without the cache each process would
# compile them again (importing Prefect alone: 4.8 instead of 2.2 CPU seconds). A .pth line runs at start-up.
bytecode_on_first_use() {
  local site
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') &&
    printf 'import sys; sys.dont_write_bytecode = False\n' > "$site/hazardnet_bytecode.pth"
}

install_with_pip() {  # a chain, so that a failure stops it wherever it is called (set -e does not, in `||`)
  { .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip --upgrade >/dev/null; } &&
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock &&
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . &&
    bytecode_on_first_use
}

setup() {
  if [ ! -x .venv/bin/python ]; then
    if [ "${HAZARDNET_INSTALLER:-uv}" = pip ]; then
      "$PY" -m venv .venv
    else
      "$PY" -m venv --without-pip .venv   # uv needs no pip in the venv; pip's fallback adds it
    fi
  fi
  local want have
  want=$(sha256sum $LOCK_DIGEST_FILES | sha256sum | cut -c1-64)
  have=$(cat .venv/.installed 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    if find_uv; then
      install_with_uv || { echo "run.sh: uv 安装失败，改用 pip 安装 requirements.lock（较慢）" >&2; install_with_pip || exit 1; }
    else
      [ "${HAZARDNET_INSTALLER:-uv}" = pip ] ||
        echo "run.sh: 无法获得 uv，改用 pip 安装 requirements.lock（较慢）" >&2
      install_with_pip || exit 1
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
    bash scripts/ensure_libreoffice.sh   # the paper-copy tests convert real workbooks to PDF (LibreOffice, pdftotext)
    bash scripts/ensure_dovecot.sh   # the mail-intake tests read a real IMAP mailbox (a private Dovecot on loopback)
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
