#!/usr/bin/env bash
# The test behind nginx (tests/integration/app/test_behind_nginx.py) and bench/scale_out.py run Debian's
# nginx binary with a config of their own; install it when missing and we are root. Nothing here
# starts nginx as a service: the package's service is masked from starting while it installs.
set -u
NGINX=${NGINX_PATH:-/usr/sbin/nginx}
[ -x "$NGINX" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing nginx for the test behind a proxy (apt-get install nginx)…"
  # policy-rc.d answering 101 keeps invoke-rc.d from starting the service the package installs.
  created_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  status=$?
  [ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
  # Nor at the next boot, on a machine run by systemd.
  if [ "$status" = 0 ] && [ -d /run/systemd/system ]; then
    systemctl disable --quiet nginx || true
  fi
  [ "$status" = 0 ] && exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "error: $NGINX is missing and could not be installed; CI needs the test behind nginx." >&2
  exit 1
fi
echo "warning: $NGINX is missing; the tests behind nginx will be skipped (run as root or: sudo apt-get install nginx)." >&2
