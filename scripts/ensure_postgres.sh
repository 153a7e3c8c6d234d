#!/usr/bin/env bash
# Make Debian's PostgreSQL server binaries available for the store tests (tests/postgres.py).
# Idempotent, and never fails its caller: when PostgreSQL cannot be installed it says why and exits 0
# (the PostgreSQL store tests are then skipped with that reason).
set -u

have_initdb() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }

if have_initdb; then
  exit 0
fi
if [ -n "${HAZARDNET_TEST_PG_URL:-}" ]; then
  echo "ensure_postgres: HAZARDNET_TEST_PG_URL is set; using that server, nothing to install."
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure_postgres: PostgreSQL is not installed and we are not root; PostgreSQL store tests will be skipped."
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_postgres: PostgreSQL is not installed and apt-get is not available; PostgreSQL store tests will be skipped."
  exit 0
fi

echo "ensure_postgres: installing PostgreSQL from Debian's packages..."
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null 2>&1 \
   && apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
   && have_initdb; then
  echo "ensure_postgres: installed $(compgen -G '/usr/lib/postgresql/*/bin/initdb' | head -n1)"
else
  echo "ensure_postgres: could not install PostgreSQL (apt-get failed); PostgreSQL store tests will be skipped."
fi
exit 0
