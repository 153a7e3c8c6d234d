#!/usr/bin/env bash
# Make Debian's Dovecot IMAP server available for the mail-intake tests (tests/imap_server.py starts a private
# instance of it on loopback). Idempotent, and never fails its caller: when Dovecot cannot be installed it says
# why and exits 0 (the IMAP tests are then skipped with that reason).
set -u

have_dovecot() { command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; }

if have_dovecot; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure_dovecot: Dovecot is not installed and we are not root; the IMAP mail-intake tests will be skipped."
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_dovecot: Dovecot is not installed and apt-get is not available; the IMAP mail-intake tests will be skipped."
  exit 0
fi

echo "ensure_dovecot: installing dovecot-imapd from Debian's packages..."
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null 2>&1 \
   && apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null 2>&1 \
   && have_dovecot; then
  # the package starts a system instance on ports 143/993: the tests start their own, so stop it
  (command -v systemctl >/dev/null 2>&1 && systemctl stop dovecot >/dev/null 2>&1) || true
  echo "ensure_dovecot: installed $(dovecot --version 2>/dev/null || echo dovecot)"
else
  echo "ensure_dovecot: could not install Dovecot (apt-get failed); the IMAP mail-intake tests will be skipped."
fi
exit 0
