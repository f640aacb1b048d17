#!/usr/bin/env bash
# Installs the real servers the tests start for themselves (Debian's packages): Redis, for rate
# limits shared by every worker and host; PostgreSQL, the database several hosts share
# (tests/conftest.py runs its binaries from /usr/lib/postgresql/<version>/bin as an unprivileged
# user; the package's own cluster service is not used).
set -euo pipefail

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
