# syntax=docker/dockerfile:1
# Build: docker build -t k8s-sync:0.1.0 .   (not built in this repository's CI: no Docker engine there)
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
# Poms first, so dependency downloads are cached while only sources change.
COPY pom.xml ./
COPY sinks/api/pom.xml sinks/api/
COPY sinks/http/pom.xml sinks/http/
COPY sinks/zookeeper/pom.xml sinks/zookeeper/
COPY sinks/consul/pom.xml sinks/consul/
COPY sinks/mysql/pom.xml sinks/mysql/
COPY sinks/kafka/pom.xml sinks/kafka/
COPY sync-daemon/pom.xml sync-daemon/
COPY benchmarks/pom.xml benchmarks/
# Every module of pom.xml must be here or Maven refuses to start. From 3.9.0 go-offline skips this
# build's own modules instead of looking for them (unbuilt yet) in a repository.
RUN mvn -B -ntp -q -pl sync-daemon -am org.apache.maven.plugins:maven-dependency-plugin:3.9.0:go-offline -DexcludeReactor=true
COPY . .
RUN mvn -B -ntp -q -pl sync-daemon -am -DskipTests package

FROM eclipse-temurin:17-jre
RUN groupadd --system --gid 10001 k8s-sync \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin k8s-sync
COPY --from=build /src/sync-daemon/target/k8s-sync.jar /opt/k8s-sync/k8s-sync.jar
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-XX:+ExitOnOutOfMemoryError", "-jar", "/opt/k8s-sync/k8s-sync.jar"]
CMD ["run", "--config", "/etc/k8s-sync/k8s-sync.yaml"]
