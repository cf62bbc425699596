#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/http/test_playground_browser.py) when it
# is missing; quick and silent when it is there. Playwright drives it; no `playwright install`.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
echo "chromium is missing: installing Debian's package" >&2
SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium
test -x /usr/bin/chromium
