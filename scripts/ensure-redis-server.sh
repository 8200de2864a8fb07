#!/usr/bin/env bash
# Make sure a `redis-server` binary is on PATH (the tests in tests/redis/ start one).
#
# Harmless when redis-server is already installed. When it is missing, installs
# Debian's package with apt-get if we are root; otherwise says what to run and fails.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    echo "redis-server present: $(redis-server --version)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "redis-server is missing and this is not root;" \
         "run: sudo apt-get update && sudo apt-get install -y redis-server" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "redis-server is missing and apt-get is not available; install Redis by hand" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends redis-server
# The package starts a system service where an init system runs; the tests start
# their own server on a free port, so that one is not needed (and may not exist here).
echo "redis-server installed: $(redis-server --version)"
