#!/usr/bin/env bash
# The Redis Cluster test starts its own 3-master cluster from Debian's redis-server and redis-cli.
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then exit 0; fi
echo "installing Debian's redis-server for the Redis Cluster test" >&2
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools
command -v redis-server >/dev/null && command -v redis-cli >/dev/null
