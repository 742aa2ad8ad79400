#!/usr/bin/env bash
# The browser tests (tests/browser) drive Debian's Chromium at /usr/bin/chromium through
# Playwright, never a browser build of Playwright's own (`playwright install` downloads one
# from outside the package registries). Install Debian's package when it is missing and
# this machine can (apt-get, as root); fail loudly when it cannot be had. Never skip.
set -euo pipefail
CHROMIUM=/usr/bin/chromium

if [ ! -x "$CHROMIUM" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "Chromium is missing; installing Debian's package."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
fi

[ -x "$CHROMIUM" ] || {
  echo "FATAL: $CHROMIUM is missing and could not be installed (needs apt-get as root:" \
    "apt-get install chromium). The browser tests need it." >&2
  exit 1
}
# Debian's wrapper script prints a shell warning on some machines; the version is what counts.
echo "Chromium for the browser tests: $("$CHROMIUM" --version 2>/dev/null)"
