#!/usr/bin/env bash
# Builds kube-apiserver and etcd from their Go modules and lays them out as io.fabric8:kube-api-test
# expects in offline mode: $KUBE_API_TEST_DIR/k8s/<version>-linux-amd64/{kube-apiserver,etcd,kubectl}.
# Reuses what is there. Downloads only Go modules (module proxy) and Debian's kubectl.
set -euo pipefail
. "$(dirname "$0")/common.sh"

out="$KUBE_API_TEST_DIR/k8s/$KUBE_VERSION-linux-amd64"
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ]; then
  log "kube-apiserver $KUBE_VERSION and etcd $ETCD_VERSION already built in $out"
  exit 0
fi
mkdir -p "$out"

if ! command -v kubectl >/dev/null; then
  log "installing kubectl (Debian kubernetes-client)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null
fi
ln -sf "$(command -v kubectl)" "$out/kubectl"

if [ ! -x "$out/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  w="$K8S_SYNC_CACHE/src/etcd-$ETCD_VERSION"
  mkdir -p "$w"
  cat > "$w/go.mod" <<MOD
module k8ssync.local/etcd-build

go 1.24

require (
	go.etcd.io/etcd/server/v3 v$ETCD_VERSION
	go.etcd.io/etcd/api/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/v3 v$ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 v$ETCD_VERSION
)
MOD
  printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n' > "$w/tools.go"
  (cd "$w" && go mod tidy >/dev/null 2>&1 || true; go build -trimpath -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
fi

if [ ! -x "$out/kube-apiserver" ]; then
  log "building kube-apiserver $KUBE_VERSION (takes a while on 2 cores)"
  w="$K8S_SYNC_CACHE/src/kubernetes-$KUBE_VERSION"
  mkdir -p "$w"
  go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" >/dev/null
  upstream="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$KUBE_VERSION.mod"
  staging_minor="0.${KUBE_VERSION#1.}"
  {
    printf 'module k8ssync.local/kube-build\n\ngo 1.26\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$KUBE_VERSION"
    # Every staging module the release replaces with a local folder, pinned to its published tag.
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$upstream" |
      while read -r m; do printf '\t%s => %s v%s\n' "$m" "$m" "$staging_minor"; done
    printf ')\n'
  } > "$w/go.mod"
  printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n' > "$w/tools.go"
  (cd "$w" && go mod tidy >/dev/null && go build -trimpath -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
fi
echo "$KUBE_VERSION" > "$K8S_SYNC_CACHE/kube-version"
log "ready: $out"
