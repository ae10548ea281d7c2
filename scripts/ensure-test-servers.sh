#!/usr/bin/env bash
# Run before `npm test`: the integration tests start their own redis-server (Debian's package) on a
# free port. On a machine without it, install it when we can (root with apt-get, as on CI and the
# team's machines), otherwise say exactly what to install. Nothing is started here.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing Debian's redis-server for the integration tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  exit 0
fi
echo "The integration tests need redis-server on PATH: sudo apt-get install redis-server (Debian/Ubuntu) or brew install redis (macOS)." >&2
exit 1
