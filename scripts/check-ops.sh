#!/usr/bin/env bash
# Checks the operations files with the real tools: promtool for the alert rules and their unit
# tests, systemd-analyze for the unit, and that every alert has its runbook section in the docs.
# Installs the tools from Debian's packages when missing. It changes nothing on the host: no
# user is created, nothing is installed under /opt or /etc.
#
# Inputs can be pointed elsewhere (to prove a check fails on a broken copy, for example):
#   K8S_SYNC_UNIT    (default systemd/k8s-sync.service)
#   K8S_SYNC_ALERTS  (default config/prometheus/k8s-sync-alerts.yaml)
#   K8S_SYNC_OPS_DOC (default docs/OPERATIONS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
unit=${K8S_SYNC_UNIT:-systemd/k8s-sync.service}
alerts=${K8S_SYNC_ALERTS:-config/prometheus/k8s-sync-alerts.yaml}
ops_doc=${K8S_SYNC_OPS_DOC:-docs/OPERATIONS.md}

need() { # command package
  if ! command -v "$1" >/dev/null; then
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  fi
}
need promtool prometheus
need systemd-analyze systemd

fail() { printf 'check-ops: %s\n' "$*" >&2; exit 1; }

# --- Alert rules --------------------------------------------------------------------------------
promtool check rules "$alerts"
promtool test rules config/prometheus/k8s-sync-alerts.test.yaml

# --- Every alert has a runbook section, and its runbook_url points at it --------------------------
# One line per alert: "<name> <runbook_url or empty>". The rules file is plain YAML in one layout
# (`- alert: X` starts a rule, `runbook_url:` sits in its annotations), so awk reads it without a
# YAML library; a `- record:` rule ends the current alert.
pairs=$(awk '
  function flush() { if (name != "") print name, url; name = ""; url = "" }
  /^[[:space:]]*-[[:space:]]*(alert|record):/ {
    flush()
    if ($0 ~ /alert:/) { v = $0; sub(/^[^:]*:[[:space:]]*/, "", v); gsub(/["\047[:space:]]/, "", v); name = v }
    next
  }
  name != "" && /^[[:space:]]*runbook_url:/ {
    v = $0; sub(/^[^:]*:[[:space:]]*/, "", v); gsub(/["\047[:space:]]/, "", v); url = v
  }
  END { flush() }' "$alerts")
[ -n "$pairs" ] || fail "no alert found in $alerts"
runbook_errors=0
while read -r name url; do
  anchor=$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')
  if ! grep -qxF "### $name" "$ops_doc"; then
    printf 'check-ops: alert %s has no runbook section "### %s" in %s\n' "$name" "$name" "$ops_doc" >&2
    runbook_errors=1
  fi
  if [ "$url" != "docs/OPERATIONS.md#$anchor" ]; then
    printf 'check-ops: alert %s has runbook_url "%s"; expected "docs/OPERATIONS.md#%s" (its section'"'"'s anchor)\n' \
      "$name" "${url:-<missing>}" "$anchor" >&2
    runbook_errors=1
  fi
done <<<"$pairs"
[ "$runbook_errors" = 0 ] || exit 1
echo "runbooks: $(wc -l <<<"$pairs") alerts, each with its section in $ops_doc"

# --- The systemd unit ---------------------------------------------------------------------------
# The install steps in the docs must create the unit's user and the files the unit reads.
unit_user=$(sed -n 's/^User=//p' "$unit")
[ -n "$unit_user" ] || fail "$unit has no User= (it must run as a dedicated user)"
grep -Eq "useradd .*[[:space:]]$unit_user\$" "$ops_doc" || fail "$ops_doc does not create the unit's user $unit_user (useradd)"
for path in $(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit") \
            $(grep -Eo '(/opt|/etc)/k8s-sync/[^[:space:]]+' "$unit" | sort -u); do
  grep -qF -- "$path" "$ops_doc" || fail "$ops_doc never installs $path, which $unit uses"
done
# systemd-analyze verify checks that every Exec*= command exists and is executable, which on this
# host (no JRE at the unit's path, or no k8s-sync user, on a build machine) would not hold. So the
# unit is verified in a scratch copy where only the following is changed:
#   - each Exec*= command's absolute path points at an executable stub (`exit 0`) of the same
#     path under the scratch directory; its prefixes (-@:+!) and arguments are kept;
#   - User=/Group= name root and root's group, which exist on every host (not `nobody`: systemd
#     warns "Special user nobody configured, this is not safe!"). The real user is checked above.
# Everything else (every other directive, typos included) is verified as written.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scratch="$tmp/$(basename "$unit")"
run_group=$(id -gn root)
exec_re='^(Exec(Start|StartPre|StartPost|Condition|Reload|Stop|StopPost)=)([-@:+!|]*)(/[^[:space:]]+)(.*)$'
while IFS= read -r line || [ -n "$line" ]; do
  if [[ $line =~ $exec_re ]]; then
    stub="$tmp/stub${BASH_REMATCH[4]}"
    mkdir -p "$(dirname "$stub")"
    printf '#!/bin/sh\nexit 0\n' >"$stub"
    chmod 0755 "$stub"
    line="${BASH_REMATCH[1]}${BASH_REMATCH[3]}$stub${BASH_REMATCH[5]}"
  elif [[ $line =~ ^User= ]]; then
    line="User=root"
  elif [[ $line =~ ^Group= ]]; then
    line="Group=$run_group"
  fi
  printf '%s\n' "$line"
done <"$unit" >"$scratch"

set +e
out=$(systemd-analyze verify "$scratch" 2>&1)
rc=$?
set -e
# Lines that only say this host was not booted with systemd (a container, a build machine). They
# are about the host, never about the unit; systemd 252 in a container prints neither, older
# versions may. Anything else systemd-analyze prints (an unknown key, a bad value, a missing
# command) fails the check, even when it exits 0: systemd only warns about unknown keys.
host_only=(
  -e '^Failed to connect to bus: '                                   # no D-Bus (no systemd as PID 1)
  -e '^System has not been booted with systemd as init system (PID 1)' # same, as systemctl says it
)
problems=$(printf '%s\n' "$out" | grep -v "${host_only[@]}" -e '^$' || true)
if [ "$rc" -ne 0 ] || [ -n "$problems" ]; then
  printf 'check-ops: systemd-analyze verify %s (scratch copy of %s) exited %s:\n%s\n' \
    "$(basename "$unit")" "$unit" "$rc" "${problems:-$out}" >&2
  exit 1
fi
echo "systemd unit verified: $unit"
