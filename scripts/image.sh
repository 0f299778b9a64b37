#!/usr/bin/env bash
# Builds the k8s-sync image in one command: the jar with Maven, then the Dockerfile with buildah (or
# docker where buildah is missing). The image is tagged k8s-sync:<version> and labelled with the
# version and git commit that `k8s-sync --version` prints, taken from the jar itself.
#
#   scripts/image.sh                     # on the public Temurin JRE base
#   JRE_IMAGE=my-registry/jre:17 scripts/image.sh
#   SKIP_MAVEN=1 scripts/image.sh        # the jar is already built (the tests do this)
# Prints the image name on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=sync-daemon/target/k8s-sync.jar
if [ -z "${SKIP_MAVEN:-}" ]; then
  ./mvnw -B -ntp -q -pl sync-daemon -am install -DskipTests
fi
[ -s "$jar" ] || { echo "image.sh: $jar is missing: build it with ./mvnw -pl sync-daemon -am install -DskipTests" >&2; exit 1; }
# "k8s-sync 0.1.0 (commit 0123456789ab, committed ...)"
line=$(java -jar "$jar" --version)
version=$(awk '{print $2}' <<<"$line")
revision=$(sed -n 's/.*(commit \([0-9a-f]*\).*/\1/p' <<<"$line")
tag="${IMAGE_TAG:-k8s-sync:$version}"
args=(--build-arg "VERSION=$version" --build-arg "REVISION=${revision:-unknown}")
[ -z "${JRE_IMAGE:-}" ] || args+=(--build-arg "JRE_IMAGE=$JRE_IMAGE")
if command -v buildah >/dev/null; then
  # chroot isolation: builds without a container runtime's namespaces (and so inside a container).
  buildah bud -q --isolation chroot --layers=false "${args[@]}" -t "$tag" -f Dockerfile . >&2
else
  docker build "${args[@]}" -t "$tag" -f Dockerfile . >&2
fi
echo "$tag"
