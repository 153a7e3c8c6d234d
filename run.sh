#!/usr/bin/env bash
# The two commands of this project:
#   bash run.sh demo   set up (first time) and run the pipeline on built-in sample data in ./demo
#   bash run.sh test   set up (first time) and run the whole test suite
# Needs only Python 3.11 and access to PyPI. Everything installed comes from requirements.lock.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

setup() {
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  local want have
  want=$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-64)
  have=$(cat .venv/.installed 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
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
