#!/usr/bin/env bash
# Builds the runtime base image the tests pass to the Dockerfile (JRE_IMAGE): Debian's own JRE 17
# (openjdk-17-jre-headless) on a minimal Debian made by mmdebstrap from this machine's apt sources,
# because public container registries cannot be reached here. buildah stores it as $BASE_IMAGE, and
# an OCI archive of it stays in $K8S_SYNC_CACHE/images, so a new containers storage reloads it in
# seconds. Installs buildah and mmdebstrap from Debian's packages when missing.
set -euo pipefail
. "$(dirname "$0")/common.sh"

need() { # command package...
  if ! command -v "$1" >/dev/null; then
    log "installing $*"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${@:2}" >/dev/null
  fi
}
need buildah buildah
need mmdebstrap mmdebstrap

archive="$K8S_SYNC_CACHE/images/$(echo "$BASE_IMAGE" | tr '/:' '__').oci.tar"
if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
  log "base image $BASE_IMAGE already built"
  exit 0
fi
mkdir -p "$(dirname "$archive")"
if [ -s "$archive" ]; then
  log "loading $BASE_IMAGE from $archive"
  buildah tag "$(buildah pull -q "oci-archive:$archive")" "$BASE_IMAGE"
  exit 0
fi

suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { log "no apt sources on this machine"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log "building $BASE_IMAGE: Debian $suite essential + openjdk-17-jre-headless (mmdebstrap)"
# essential: no apt in the image. Not installed: docs, man pages, translations, and two JDK files a
# runtime never reads (ct.sym is for javac --release; classes_nocoops.jsa for heaps over 32 GB).
# alternatives needs the man1 folder even so. usrmerge (and with it perl, 50 MB) is purged: the
# tree mmdebstrap makes is merged already, which usr-is-merged says.
mmdebstrap --quiet --variant=essential --include=usr-is-merged,openjdk-17-jre-headless \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/lib/jvm/*/lib/ct.sym' \
  --dpkgopt='path-exclude=/usr/lib/jvm/*/lib/server/classes_nocoops.jsa' \
  --essential-hook='mkdir -p "$1"/usr/share/man/man1' \
  --customize-hook='chroot "$1" dpkg --purge usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl perl-modules-5.36 libperl5.36 libgdbm-compat4' \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/* "$1"/var/cache/debconf/*-old' \
  "$suite" "$tmp/rootfs.tar" "${sources[@]}"
ctr=$(buildah from scratch)
buildah add -q "$ctr" "$tmp/rootfs.tar" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
  --label org.opencontainers.image.description="Debian $suite with openjdk-17-jre-headless, built by k8s-sync's test bed" "$ctr"
buildah commit -q --rm "$ctr" "$BASE_IMAGE" >/dev/null
buildah push -q "$BASE_IMAGE" "oci-archive:$archive.tmp:$BASE_IMAGE" && mv "$archive.tmp" "$archive"
log "ready: $BASE_IMAGE ($(buildah images --format '{{.Size}}' "$BASE_IMAGE"))"
