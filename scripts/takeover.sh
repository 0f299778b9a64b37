#!/usr/bin/env bash
# Takeover times: two daemon processes with leader election feed all five systems; the leader is
# killed with SIGKILL several times, and each time a pod made ready right after the kill is timed
# into every system.
#   scripts/takeover.sh [rounds, default 5] [leaderElection settings, default: the daemon's defaults]
#   e.g. scripts/takeover.sh 5 'leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms'
# The report is printed and kept in sync-daemon/target/takeover-report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
lease="${2:-}"
scripts/testbed/prepare.sh
./mvnw -B -ntp test -pl sync-daemon -am -Dk8ssync.excludedGroups=none -Dgroups=soak -Dtest=TakeoverBench \
  -Dsurefire.failIfNoSpecifiedTests=false -Dtakeover.rounds="$rounds" -Dtakeover.lease="$lease"
cat sync-daemon/target/takeover-report.txt
