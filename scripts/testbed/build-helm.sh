#!/usr/bin/env bash
# Builds helm from its Go module (helm.sh/helm/v3) into $K8S_SYNC_CACHE/bin/helm, for the chart tests
# (lint, template). Reuses a helm of the pinned version. Downloads only Go modules.
set -euo pipefail
. "$(dirname "$0")/common.sh"

bin="$K8S_SYNC_CACHE/bin/helm"
if [ -x "$bin" ] && "$bin" version --template '{{.Version}}' 2>/dev/null | grep -qx "v$HELM_VERSION"; then
  log "helm $HELM_VERSION already built: $bin"
  exit 0
fi
mkdir -p "$K8S_SYNC_CACHE/bin"
w="$K8S_SYNC_CACHE/src/helm-$HELM_VERSION"
mkdir -p "$w"
log "building helm $HELM_VERSION"
# A wrapper module: helm's own go.mod is used as a dependency's, so its replace lines (none needed) do not apply.
printf 'module k8ssync.local/helm-build\n\ngo 1.24\n\nrequire helm.sh/helm/v3 v%s\n' "$HELM_VERSION" > "$w/go.mod"
printf 'package tools\n\nimport _ "helm.sh/helm/v3/cmd/helm"\n' > "$w/tools.go"
# helm prints the version it was stamped with; without -X it would say "v3.x+unknown".
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
(cd "$w" && go mod tidy >/dev/null && go build -trimpath -ldflags "$ldflags" -o "$bin.tmp" helm.sh/helm/v3/cmd/helm)
mv "$bin.tmp" "$bin"
log "ready: $("$bin" version --short)"
