#!/usr/bin/env bash
# Installs what the real-browser tests need: Debian's chromium (driven by Playwright through
# executable_path, so no browser download) and the fixture pages' editors from npm.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x /usr/bin/chromium ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

# The fixture pages run the real editors, installed at the versions package-lock.json pins and
# bundled into fixtures/vendor/ (quill-editor.js/.css, lexical-editor.js).
npm ci --no-audit --no-fund --loglevel=error
npm run --silent bundle
