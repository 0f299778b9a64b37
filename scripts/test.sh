#!/usr/bin/env bash
# Runs every test of k8s-sync. This is the README's test command, and all .ci/run does.
# Build caches stay outside the repo: Maven's in ~/.m2, the test bed's in ${K8S_SYNC_CACHE:-~/.cache/k8s-sync}.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x scripts/testbed/prepare.sh ]; then
  scripts/testbed/prepare.sh
fi

# Alert rules (promtool unit tests) and the systemd unit (systemd-analyze), with the real tools.
scripts/check-ops.sh

./mvnw -B -ntp verify "$@"
