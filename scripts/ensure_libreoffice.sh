#!/usr/bin/env bash
# Make LibreOffice (headless Calc), the CJK fonts and pdftotext available for the paper-copy tests
# (tests/test_paper.py) and for `hazardnet bulletin --pdf` / `hazardnet quarterly --pdf`.
# Idempotent, and never fails its caller: when they cannot be installed it says why and exits 0
# (the tests that need soffice or pdftotext are then skipped with that reason).
set -u

have_all() {
  command -v soffice >/dev/null 2>&1 \
    && command -v pdftotext >/dev/null 2>&1 \
    && compgen -G "/usr/share/fonts/opentype/noto/NotoSansCJK*" >/dev/null
}

if have_all; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure_libreoffice: LibreOffice/pdftotext/CJK fonts are not all installed and we are not root; paper-copy tests will be skipped."
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure_libreoffice: LibreOffice is not installed and apt-get is not available; paper-copy tests will be skipped."
  exit 0
fi

echo "ensure_libreoffice: installing LibreOffice Calc (headless), Noto CJK fonts and poppler-utils from Debian's packages..."
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null 2>&1 \
   && apt-get install -y -qq --no-install-recommends \
        libreoffice-calc-nogui libreoffice-writer-nogui fonts-noto-cjk poppler-utils >/dev/null 2>&1 \
   && have_all; then
  echo "ensure_libreoffice: installed $(command -v soffice), $(command -v pdftotext) and the Noto CJK fonts"
else
  echo "ensure_libreoffice: could not install LibreOffice (apt-get failed); paper-copy tests will be skipped."
fi
exit 0
