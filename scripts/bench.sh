#!/usr/bin/env bash
# Runs the benchmarks behind docs/BENCHMARKS.md. Not part of the tests: timings belong here.
#   scripts/bench.sh            heap per pod (100,000 pods) and dispatcher throughput
#   scripts/bench.sh heap 20000 one of them (heap, dispatch, registry, mysql, kafka, nginx), with arguments
#   BENCH_JVM=defaults scripts/bench.sh dispatch   the JVM's own flags instead of the shipped ones (see below)
#   scripts/bench.sh registry -Dregistry.reader=process,old 1000 20 200   ready -> visible in ZooKeeper and Consul, the
#                           nginx stand-in in its own JVM and the old in-process one (RegistryLatencyBenchmark)
#   scripts/bench.sh nginx 600 200 90   nginx sink: ready -> routed, reloads/min under 200 changes/s for 600 s
#   scripts/bench.sh footprint [-Dfootprint.flags='name=flags|...']  RSS and start-up CPU per JVM flag set
#   scripts/bench.sh gate [-Dgate.rate=20 -Dgate.pods=1000 -Dgate.seconds=60 -Dgate.sets=routing,consul,consul+gw]
#                           readiness gate latency and preStop wait on the real API server (GateLatencyBench, tag soak)
#   scripts/bench.sh sync 150000 60   initial sync of 150,000 pods on the real API server, bare informer vs daemon, then churn lag
#                           (InitialSyncBenchmark; creating the pods takes ~45 min once, etcd's data is kept in /dev/shm)
set -euo pipefail
cd "$(dirname "$0")/.."
# The JVM of the dispatch, registry, mysql and kafka benchmarks (the sink's side; each sets its own heap cap):
#   BENCH_JVM=shipped (the default): the flags the Deployment, chart, unit and image ship with, chosen for RSS and start-up;
#   BENCH_JVM=defaults: the JVM's own (G1, C2), as every figure before 2026-12-06 was taken. docs/BENCHMARKS.md gives both.
case "${BENCH_JVM:-shipped}" in
  shipped) jvm=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss256k -Xms32m -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30 -XX:MaxNewSize=4m) ;;
  defaults) jvm=() ;;
  *) echo "BENCH_JVM must be shipped or defaults, not ${BENCH_JVM}" >&2; exit 2 ;;
esac
./mvnw -q -B -ntp -DskipTests install
jar=benchmarks/target/benchmarks.jar
# Informer progress logs would drown the figures.
export LOG_LEVEL=WARN
what="${1:-all}"
[ $# -gt 0 ] && shift
case "$what" in
  heap) java -XX:+UseSerialGC -Xmx12g -cp "$jar" io.k8ssync.benchmarks.HeapPerPodBenchmark "$@" ;;
  dispatch) java -Xmx2g "${jvm[@]}" -cp "$jar" io.k8ssync.benchmarks.DispatcherThroughputBenchmark "$@" ;;
  kafka)
    # The broker in a JVM of its own (the JVM's defaults), each batch built just before its apply; leading -D/-X flags
    # go to the JVM after these (the last wins), e.g. -Dkafka.rounds=5.
    flags=(); while [ $# -gt 0 ] && [[ $1 == -D* || $1 == -X* ]]; do flags+=("$1"); shift; done
    java -Xmx3g "${jvm[@]}" -Dkafka.brokerProcess=true -Dkafka.prebuild=false "${flags[@]}" -cp "$jar" \
      io.k8ssync.benchmarks.KafkaThroughputBenchmark "$@" ;;
  mysql) scripts/testbed/mariadb.sh && java -Xmx2g "${jvm[@]}" -cp "$jar" io.k8ssync.benchmarks.MySqlUpsertBenchmark "$@" ;;
  registry)
    # Leading -D/-X flags go to the JVM, after these defaults (the last wins): both registries, JIT cold then warm, the reader
    # and ZooKeeper in their own JVMs, no proxy in the latency rounds and one Consul round through it to count requests.
    flags=(); while [ $# -gt 0 ] && [[ $1 == -D* || $1 == -X* ]]; do flags+=("$1"); shift; done
    scripts/testbed/build-consul.sh && java -Xmx2g "${jvm[@]}" -Dregistry.rounds=2 -Dregistry.zkProcess=true -Dregistry.zkDataDir=/dev/shm \
      -Dregistry.proxy=false -Dregistry.countingRound=true "${flags[@]}" -cp "$jar" io.k8ssync.benchmarks.RegistryLatencyBenchmark "$@" ;;
  sync) scripts/testbed/build-k8s.sh && java -Xmx2g -cp "$jar" io.k8ssync.benchmarks.InitialSyncBenchmark "$@" ;;
  status) java -Xmx4g -cp "$jar" io.k8ssync.benchmarks.StatusQueryBenchmark "$@" ;;
  nginx) scripts/testbed/nginx.sh && java -Xmx2g -cp "$jar" io.k8ssync.benchmarks.NginxReloadBenchmark "$@" ;;
  gate)
    scripts/testbed/build-k8s.sh && scripts/testbed/build-consul.sh
    ./mvnw -B -ntp test -pl sync-daemon -Dk8ssync.excludedGroups=none -Dgroups=soak -Dtest=GateLatencyBench \
      -Dsurefire.failIfNoSpecifiedTests=false "$@"
    cat sync-daemon/target/gate-latency-report.txt ;;
  footprint)
    # RSS and start-up CPU of the production jar per JVM flag set (FootprintBench, tag soak), e.g.
    #   scripts/bench.sh footprint -Dfootprint.pods=1000 -Dfootprint.flags='a=-Xmx512m|b=-XX:+UseSerialGC -Xmx96m'
    #   100,000 pods, live heap per set, an older jar beside this one (docs/BENCHMARKS.md, target 6):
    #   scripts/bench.sh footprint -Dfootprint.pods=100000 -Dfootprint.inCluster=true -Dfootprint.histogram=true \
    #     -Dfootprint.createThreads=12 -Dfootprint.flags='before=@jar=/tmp/old.jar -Xmx256m|after=-Xmx256m'
    #   all five sinks, each on a real server, archives from two class lists (config/cds/README.md):
    #   scripts/bench.sh footprint -Dfootprint.sinks=all -Dfootprint.seconds=0 \
    #     -Dfootprint.flags='a=@cdslist=/tmp/a.classlist -XX:SharedArchiveFile=@cds|b=@cdslist=/tmp/b.classlist -XX:SharedArchiveFile=@cds'
    scripts/testbed/build-k8s.sh && scripts/testbed/build-consul.sh
    if [[ " $* " == *" -Dfootprint.sinks=all "* ]]; then scripts/testbed/mariadb.sh; fi
    ./mvnw -B -ntp test -pl sync-daemon -Dk8ssync.excludedGroups=none -Dgroups=soak -Dtest=FootprintBench \
      -Dsurefire.failIfNoSpecifiedTests=false "$@"
    cat sync-daemon/target/footprint-report.txt ;;
  all)
    java -XX:+UseSerialGC -Xmx12g -cp "$jar" io.k8ssync.benchmarks.HeapPerPodBenchmark
    java -Xmx2g "${jvm[@]}" -cp "$jar" io.k8ssync.benchmarks.DispatcherThroughputBenchmark
    scripts/testbed/build-consul.sh
    java -Xmx2g "${jvm[@]}" -cp "$jar" io.k8ssync.benchmarks.RegistryLatencyBenchmark
    scripts/testbed/mariadb.sh
    java -Xmx2g "${jvm[@]}" -cp "$jar" io.k8ssync.benchmarks.MySqlUpsertBenchmark
    java -Xmx3g "${jvm[@]}" -Dkafka.brokerProcess=true -Dkafka.prebuild=false -cp "$jar" io.k8ssync.benchmarks.KafkaThroughputBenchmark ;;
  *) echo "usage: scripts/bench.sh [heap|dispatch|registry|mysql|kafka|nginx|status|gate|sync|all] [args...]" >&2; exit 2 ;;
esac
