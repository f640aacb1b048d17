#!/usr/bin/env bash
# Installs the real servers the tests start for themselves (Debian's packages): Redis, for rate
# limits shared by every worker and host.
set -euo pipefail

if ! command -v redis-server >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
