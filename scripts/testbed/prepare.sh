#!/usr/bin/env bash
# Prepares every real server the tests use: kube-apiserver + etcd and consul built from their Go
# modules (cached outside the repo), MariaDB and Chromium from Debian's packages. Reruns take seconds.
set -euo pipefail
dir="$(dirname "$0")"
. "$dir/common.sh"
for step in build-k8s build-consul mariadb chromium nginx build-helm build-image-base; do
  t0=$(date +%s)
  "$dir/$step.sh"
  log "$step took $(( $(date +%s) - t0 ))s"
done
