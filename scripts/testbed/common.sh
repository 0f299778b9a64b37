# Shared settings of the test bed scripts. Everything built goes under $K8S_SYNC_CACHE, outside the repo.
export K8S_SYNC_CACHE="${K8S_SYNC_CACHE:-$HOME/.cache/k8s-sync}"
export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
export CGO_ENABLED=0
KUBE_VERSION="${KUBE_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
CONSUL_VERSION="${CONSUL_VERSION:-1.16.6}"
export KUBE_API_TEST_DIR="${KUBE_API_TEST_DIR:-$K8S_SYNC_CACHE/kubeapitest}"
mkdir -p "$K8S_SYNC_CACHE"

log() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
HELM_VERSION="${HELM_VERSION:-3.21.4}"
# The runtime base the tests build the image on (scripts/testbed/build-image-base.sh).
BASE_IMAGE="${BASE_IMAGE:-localhost/k8s-sync-jre:17-debian}"
