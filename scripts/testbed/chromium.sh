#!/usr/bin/env bash
# Installs Debian's Chromium when absent: the status page is tested in a real headless browser
# (driven over the DevTools protocol by the JDK's own WebSocket client, no driver needed).
set -euo pipefail
. "$(dirname "$0")/common.sh"

if ! command -v chromium >/dev/null; then
  log "installing chromium (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
log "chromium ready: $(chromium --version 2>/dev/null || echo unknown)"
