package io.k8ssync.benchmarks;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.kafka.KafkaSinkFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * Sustained events per second of the kafka sink into a real KRaft broker in the same JVM (so the
 * broker shares the 2 cores): batches of 1,000 pod changes, each acknowledged (acks=all,
 * idempotent, lz4) before the next, as the sink's queue hands them over.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.k8ssync.benchmarks.KafkaThroughputBenchmark [events]}
 */
public final class KafkaThroughputBenchmark {

  public static void main(String[] args) throws Exception {
    int events = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    try (KafkaClusterTestKit kafka = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder().setCombined(true)
        .setNumBrokerNodes(1).setNumControllerNodes(1).build()).build()) {
      kafka.format();
      kafka.startup();
      kafka.waitForReadyBrokers();
      BenchContext ctx = new BenchContext("kafka", new KafkaSinkFactory(), Map.of("bootstrapServers", kafka.bootstrapServers(),
          "topic", "bench-events", "partitions", 6, "replicationFactor", 1), null, false);
      Sink sink = new KafkaSinkFactory().create(ctx);
      sink.start();
      System.out.printf("events=%d batch=%d%n", events, sink.maxBatchSize());
      System.out.println("| round | events | seconds | events/s |");
      System.out.println("|---|---|---|---|");
      for (int round = 0; round <= 3; round++) {
        int n = round == 0 ? Math.min(events, 100_000) : events;
        long t0 = System.nanoTime();
        for (int from = 0; from < n; from += sink.maxBatchSize()) {
          List<PodChange> batch = new ArrayList<>(sink.maxBatchSize());
          for (int i = from; i < Math.min(n, from + sink.maxBatchSize()); i++) {
            boolean ready = (i / 10_000 + round) % 2 == 0;
            PodState p = new PodState("bench", "ns-" + (i % 50), "pod-" + (i % 10_000), "uid-" + (i % 10_000), "svc-" + (i % 400),
                "10.1." + (i % 10_000 / 250) + "." + (i % 250), null, 8080, "node-" + (i % 100), PodState.Phase.RUNNING, ready,
                false, 1, Map.of(), Map.of(), Map.of(), Long.toString((long) round * events + i), 0, 0, null);
            PodState before = new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), p.service(), p.ip(), null, 8080, p.node(),
                PodState.Phase.RUNNING, !ready, false, 1, Map.of(), Map.of(), Map.of(), "0", 0, 0, null);
            batch.add(PodChange.of(p.key(), before, p));
          }
          sink.apply(batch);
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("| %s | %d | %.2f | %,.0f |%n", round == 0 ? "warm-up" : Integer.toString(round), n, s, n / s);
      }
      sink.close();
    }
  }
}
