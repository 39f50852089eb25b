#!/usr/bin/env bash
# The browser tests drive Debian's Chromium; install it when missing and we are root.
set -u
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Chromium for the browser tests (apt-get install chromium)…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "error: $CHROMIUM is missing and could not be installed; CI needs the browser tests." >&2
  exit 1
fi
echo "warning: $CHROMIUM is missing; browser tests will be skipped (run as root or: sudo apt-get install chromium)." >&2
