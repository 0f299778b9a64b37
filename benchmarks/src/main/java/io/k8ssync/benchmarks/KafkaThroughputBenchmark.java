package io.k8ssync.benchmarks;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.kafka.KafkaSinkFactory;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * Sustained events per second of the kafka sink into a real KRaft broker, by default in the same JVM (the broker
 * shares the 2 cores either way): batches of the sink's size, each acknowledged (acks=all, idempotent)
 * before its worker takes the next, from as many workers as the daemon runs per sink (2), each on its
 * own pods, as the sink's queue hands them over. The CPU column is this JVM's, broker included; the round's
 * PodStates are built before the clock starts and their CPU is shown apart (-Dkafka.prebuild=false: see below).
 *
 * <p>With {@code -Dkafka.brokerProcess=true} the broker runs in a JVM of its own ({@link KafkaBrokerProcess}, the JVM's
 * default flags, {@code -Dkafka.brokerFlags} to add some) and each JVM's CPU is printed apart: this JVM's flags are
 * then the sink's alone, e.g. the daemon's shipped ones. With {@code -Dkafka.prebuild=false} the workers build each
 * batch just before applying it (a live set of one batch, as in the daemon, instead of a whole round); the CPU their
 * threads spend building is measured and left out of the sink's, but the round's time still holds it and the
 * collections of what they built count as the sink's: the rate is then a lower bound for the sink alone.
 *
 * <p>Usage: {@code java [-Dkafka.brokerProcess=true] [-Dkafka.prebuild=false] [-Dkafka.linger=5ms] [-Dkafka.rounds=3]
 * -cp benchmarks/target/benchmarks.jar io.k8ssync.benchmarks.KafkaThroughputBenchmark [events] [workers] [compression]}
 */
public final class KafkaThroughputBenchmark {

  public static void main(String[] args) throws Exception {
    int events = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    int workers = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    String compression = args.length > 2 ? args[2] : "lz4";
    boolean brokerProcess = Boolean.getBoolean("kafka.brokerProcess");
    KafkaBrokerProcess own = brokerProcess ? KafkaBrokerProcess.start() : null;
    KafkaClusterTestKit kafka = brokerProcess ? null : new KafkaClusterTestKit.Builder(new TestKitNodes.Builder().setCombined(true)
        .setNumBrokerNodes(1).setNumControllerNodes(1).build()).build();
    try (AutoCloseable broker = brokerProcess ? own : kafka) {
      if (kafka != null) {
        kafka.format();
        kafka.startup();
        kafka.waitForReadyBrokers();
      }
      String bootstrap = brokerProcess ? own.bootstrapServers() : kafka.bootstrapServers();
      BenchContext ctx = new BenchContext("kafka", new KafkaSinkFactory(), Map.of("bootstrapServers", bootstrap,
          "topic", "bench-events", "partitions", 6, "replicationFactor", 1,
          "compression", compression, "linger", System.getProperty("kafka.linger", "5ms")), null, false);
      Sink sink = new KafkaSinkFactory().create(ctx);
      sink.start();
      // The load generator's PodStates are built before the clock starts (-Dkafka.prebuild=false: by the workers, per
      // batch): in the daemon the informer builds them, not the sink. Their CPU is printed apart, never counted.
      boolean prebuild = Boolean.parseBoolean(System.getProperty("kafka.prebuild", "true"));
      System.out.printf("events=%d batch=%d workers=%d compression=%s prebuild=%s broker=%s%n", events, sink.maxBatchSize(), workers,
          compression, prebuild, brokerProcess ? "own JVM" : "this JVM");
      System.out.println("| round | events | seconds | events/s | CPU s (" + (brokerProcess ? "sink's JVM" : "broker and sink")
          + ") | CPU s per 1M events | load generator CPU s (not counted) |" + (brokerProcess ? " broker's JVM CPU s |" : ""));
      System.out.println("|---|---|---|---|---|---|---|" + (brokerProcess ? "---|" : ""));
      int rounds = Integer.getInteger("kafka.rounds", 3);
      for (int round = 0; round <= rounds; round++) {
        int n = round == 0 ? Math.min(events, 100_000) : events;
        int r = round;
        int size = sink.maxBatchSize();
        long build0 = cpuNanos();
        // Worker w takes the batches whose index is w modulo workers: the 10,000 pods split into fixed
        // slices per worker, so no pod is in two workers' batches at once, as the sink's queue ensures.
        List<List<List<PodChange>>> prebuilt = new ArrayList<>();
        if (prebuild) {
          for (int w = 0; w < workers; w++) {
            List<List<PodChange>> batches = new ArrayList<>();
            for (int from = w * size; from < n; from += workers * size) {
              batches.add(batch(from, Math.min(n, from + size), r, events));
            }
            prebuilt.add(batches);
          }
          System.gc(); // the prebuilt round goes to the old generation now, not in a collection during the round
        }
        double built = (cpuNanos() - build0) / 1e9;
        java.util.concurrent.atomic.LongAdder building = new java.util.concurrent.atomic.LongAdder();
        double broker0 = brokerProcess ? ProcessProbe.cpuSeconds(own.pid()) : 0;
        long client0 = cpuNanos();
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        List<Future<?>> done = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
          int worker = w;
          done.add(pool.submit(() -> {
            if (prebuild) {
              for (List<PodChange> b : prebuilt.get(worker)) {
                sink.apply(b);
              }
            } else {
              java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
              for (int from = worker * size; from < n; from += workers * size) {
                long b0 = threads.getCurrentThreadCpuTime();
                List<PodChange> b = batch(from, Math.min(n, from + size), r, events);
                building.add(threads.getCurrentThreadCpuTime() - b0);
                sink.apply(b);
              }
            }
            return null;
          }));
        }
        for (Future<?> f : done) {
          f.get();
        }
        pool.shutdown();
        double s = (System.nanoTime() - t0) / 1e9;
        double generated = building.sum() / 1e9;
        double cpu = (cpuNanos() - client0) / 1e9 - generated;
        double brokerCpu = brokerProcess ? ProcessProbe.cpuSeconds(own.pid()) - broker0 : 0;
        prebuilt.clear();
        System.out.printf("| %s | %,d | %.2f | %,.0f | %.1f | %.1f | %.1f |%s%n", round == 0 ? "warm-up" : Integer.toString(round), n, s,
            n / s, cpu, cpu * 1e6 / n, prebuild ? built : generated, brokerProcess ? String.format(" %.1f |", brokerCpu) : "");
      }
      sink.close();
    }
  }

  /** Changes {@code from} to {@code to} of a round: 10,000 pods flipping readiness every 10,000 changes. */
  private static List<PodChange> batch(int from, int to, int round, int events) {
    List<PodChange> batch = new ArrayList<>(to - from);
    for (int i = from; i < to; i++) {
      boolean ready = (i / 10_000 + round) % 2 == 0;
      PodState p = new PodState("bench", "ns-" + (i % 50), "pod-" + (i % 10_000), "uid-" + (i % 10_000), "svc-" + (i % 400),
          "10.1." + (i % 10_000 / 250) + "." + (i % 250), null, 8080, "node-" + (i % 100), PodState.Phase.RUNNING, ready,
          false, 1, Map.of(), Map.of(), Map.of(), Long.toString((long) round * events + i), 0, 0, null);
      PodState before = new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), p.service(), p.ip(), null, 8080, p.node(),
          PodState.Phase.RUNNING, !ready, false, 1, Map.of(), Map.of(), Map.of(), "0", 0, 0, null);
      batch.add(PodChange.of(p.key(), before, p));
    }
    return batch;
  }

  private static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }
}
