#!/usr/bin/env bash
# The soak: the whole system (real API server, ZooKeeper, Consul, MariaDB, Kafka, an HTTP gateway)
# under churn with rotating outages for a while, then drift, lost events, lag and heap.
#   scripts/soak.sh [duration, default 10m] [pods, default 100]
# The report is printed and kept in sync-daemon/target/soak-report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10m}"
pods="${2:-100}"
scripts/testbed/prepare.sh
./mvnw -B -ntp test -pl sync-daemon -am -Dk8ssync.excludedGroups=none -Dgroups=soak -Dtest=SoakTest \
  -Dsurefire.failIfNoSpecifiedTests=false -Dsoak.duration="$duration" -Dsoak.pods="$pods"
cat sync-daemon/target/soak-report.txt
