# syntax=docker/dockerfile:1
# The k8s-sync image: the jar Maven built, on a Java 17 runtime. Build it with scripts/image.sh, which
# runs Maven first and then buildah or docker:
#   ./mvnw -B -DskipTests install && docker build -t k8s-sync:0.1.0 .
# The runtime base is a build argument: by default the public Temurin JRE; the tests pass one built
# here from Debian's packages (scripts/testbed/build-image-base.sh), as registries are out of reach.
# Any image with `java` on its PATH (JRE 17 or later) will do, including a jlink'ed runtime.
ARG JRE_IMAGE=eclipse-temurin:17-jre
FROM ${JRE_IMAGE}
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="k8s-sync" \
      org.opencontainers.image.description="Keeps systems outside a Kubernetes cluster in step with the pods inside it" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# One RUN step, in exec form (the base needs no shell), and no user is created. The daemon runs as a
# numeric non-root user; the JVM needs no passwd entry. It writes nothing but /tmp, so the root file
# system can be read-only (mount an emptyDir at /tmp; -XX:-UsePerfData keeps the JVM out of it too).
COPY sync-daemon/target/k8s-sync.jar /opt/k8s-sync/k8s-sync.jar
COPY config/k8s-sync.yaml /etc/k8s-sync/k8s-sync.yaml
COPY config/cds/k8s-sync.classlist /opt/k8s-sync/k8s-sync.classlist
# Class-data sharing (AppCDS): the classes the daemon loads at start-up (the list, from a run against
# an API server and Consul, see docs/BENCHMARKS.md "Footprint beside a Go peer"), parsed and verified
# once here by this image's own JVM into a read-only archive that every start maps: ~1.5 CPU-s less at
# start-up. The archive belongs to this jar and this JVM; were it ever to mismatch, the JVM would start
# without class sharing, slower but the same. Classes missing from the list load from the jar as before.
RUN ["java", "-Xshare:dump", "-XX:+UseSerialGC", "-XX:SharedClassListFile=/opt/k8s-sync/k8s-sync.classlist", "-XX:SharedArchiveFile=/opt/k8s-sync/k8s-sync.jsa", "-cp", "/opt/k8s-sync/k8s-sync.jar"]
USER 10001:10001
EXPOSE 9464
# The footprint flags of docs/BENCHMARKS.md ("Footprint beside a Go peer"); JAVA_TOOL_OPTIONS can add to them.
ENTRYPOINT ["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss256k", "-Xms32m", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30", "-XX:MaxNewSize=4m", "-XX:MaxRAMPercentage=60", "-XX:+ExitOnOutOfMemoryError", "-XX:-UsePerfData", "-XX:SharedArchiveFile=/opt/k8s-sync/k8s-sync.jsa", "-jar", "/opt/k8s-sync/k8s-sync.jar"]
CMD ["run", "--config", "/etc/k8s-sync/k8s-sync.yaml"]
