#!/usr/bin/env bash
# Checks the operations files with the real tools: promtool for the alert rules and their unit
# tests, systemd-analyze for the unit. Installs the tools from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
need() { # command package
  if ! command -v "$1" >/dev/null; then
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  fi
}
need promtool prometheus
need systemd-analyze systemd

promtool check rules config/prometheus/k8s-sync-alerts.yaml
promtool test rules config/prometheus/k8s-sync-alerts.test.yaml

# systemd-analyze verify needs the unit's binaries and user to exist; check in a scratch root.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp systemd/k8s-sync.service "$tmp/"
id k8s-sync >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin k8s-sync 2>/dev/null || true
out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$tmp/k8s-sync.service" 2>&1 || true)
# Lines about the host (no systemd running as PID 1 here, missing /opt jar) are not the unit's faults.
problems=$(printf '%s\n' "$out" | grep -v -e 'Failed to connect' -e 'System has not been booted' -e '/opt/k8s-sync' \
  -e 'is not executable' -e 'Command .* is not executable' -e '^$' || true)
if [ -n "$problems" ]; then
  printf 'systemd-analyze verify found problems:\n%s\n' "$problems" >&2
  exit 1
fi
echo "systemd unit verified"
