#!/usr/bin/env bash
# Run before `npm test`: the integration tests start their own redis-server, Prometheus and
# Alertmanager (Debian's packages) on free ports, the bundle test checks the zip with unzip, and
# the npm start cycle test runs the README's curl commands.
# On a machine without them, install them when we can (root with apt-get, as on CI and the team's
# machines), otherwise say exactly what to install.
# Nothing is started here.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} for the integration tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "The integration tests need ${missing[*]} on PATH: sudo apt-get install ${missing[*]} (Debian/Ubuntu)." >&2
exit 1
