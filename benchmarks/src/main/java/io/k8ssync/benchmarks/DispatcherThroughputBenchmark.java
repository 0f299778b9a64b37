package io.k8ssync.benchmarks;

import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.dispatch.Dispatcher;
import io.k8ssync.daemon.dispatch.RetryBackoff;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Pod changes per second through cache → dispatcher → per-sink queues → no-op sinks, with per-pod
 * order checked: every sink records the last resourceVersion it applied per pod and fails the run
 * if one ever goes backwards, and at the end each pod's last applied version must be the last one
 * produced. One producer thread plays the informer, as in the daemon.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.k8ssync.benchmarks.DispatcherThroughputBenchmark
 * [changes] [pods] [sinks] [workersPerSink]}
 */
public final class DispatcherThroughputBenchmark {

  /** A sink that does nothing but check per-pod order. */
  static final class OrderCheckingSink implements Sink {
    final Map<String, Long> lastVersion = new ConcurrentHashMap<>();
    final AtomicLong applied = new AtomicLong();
    final AtomicLong violations = new AtomicLong();

    @Override
    public void apply(List<PodChange> batch) {
      for (PodChange c : batch) {
        long v = Long.parseLong(c.latest().resourceVersion());
        Long prior = lastVersion.put(c.key(), v);
        if (prior != null && prior >= v) {
          violations.incrementAndGet();
        }
      }
      applied.addAndGet(batch.size());
    }

    @Override
    public void close() {}
  }

  public static void main(String[] args) throws Exception {
    long changes = args.length > 0 ? Long.parseLong(args[0]) : 5_000_000;
    int pods = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
    int sinks = args.length > 2 ? Integer.parseInt(args[2]) : 2;
    int workers = args.length > 3 ? Integer.parseInt(args[3]) : 2;
    System.out.printf("changes=%d pods=%d sinks=%d workersPerSink=%d cores=%d%n", changes, pods, sinks, workers,
        Runtime.getRuntime().availableProcessors());
    run(Math.min(changes, 500_000), pods, sinks, workers, false);
    for (int round = 1; round <= 3; round++) {
      run(changes, pods, sinks, workers, true);
    }
  }

  private static void run(long changes, int pods, int sinks, int workers, boolean print) throws Exception {
    DaemonMetrics metrics = new DaemonMetrics(new PrometheusRegistry());
    PodStateCache cache = new PodStateCache();
    Dispatcher dispatcher = new Dispatcher(metrics);
    OrderCheckingSink[] checks = new OrderCheckingSink[sinks];
    for (int s = 0; s < sinks; s++) {
      checks[s] = new OrderCheckingSink();
      dispatcher.add(new SinkRunner("noop-" + s, checks[s], Selector.ALL,
          new SinkRunner.Settings(workers, 1_000_000, 5, false, RetryBackoff.Settings.DEFAULTS), dispatcher.timer(), metrics));
    }
    cache.addListener(dispatcher);
    dispatcher.start();

    String[] names = new String[pods];
    for (int p = 0; p < pods; p++) {
      names[p] = "pod-" + p;
    }
    long[] lastProduced = new long[pods];
    long t0 = System.nanoTime();
    for (long i = 0; i < changes; i++) {
      int p = (int) (i % pods);
      long version = i + 1;
      lastProduced[p] = version;
      cache.put(new PodState("bench", "ns", names[p], "uid-" + p, "svc", "10.0.0." + (p % 250), null, 8080, "node",
          PodState.Phase.RUNNING, (i / pods) % 2 == 0, false, 1, Map.of(), Map.of(), Map.of(), Long.toString(version), 0, 0, null));
    }
    long produced = System.nanoTime();
    for (SinkRunner r : dispatcher.runners()) {
      if (!r.queue().awaitIdle(5, TimeUnit.MINUTES)) {
        throw new IllegalStateException("sink did not catch up: " + r.name());
      }
    }
    long done = System.nanoTime();
    dispatcher.shutdown(java.time.Duration.ofSeconds(5));

    long applied = 0;
    for (OrderCheckingSink c : checks) {
      applied += c.applied.get();
      if (c.violations.get() > 0) {
        throw new IllegalStateException("per-pod order violated " + c.violations.get() + " times");
      }
      for (int p = 0; p < pods; p++) {
        if (c.lastVersion.get("bench/ns/" + names[p]) != lastProduced[p]) {
          throw new IllegalStateException("pod " + p + " did not end at its latest state");
        }
      }
    }
    if (print) {
      double seconds = (done - t0) / 1e9;
      System.out.printf("changes/s=%,.0f (into %d sinks; all applied in %.2fs, producer done in %.2fs) applies=%d "
              + "(coalesced %.1f%%) order=kept latest-state=reached%n",
          changes / seconds, sinks, seconds, (produced - t0) / 1e9, applied,
          100.0 * (1 - applied / (double) (changes * sinks)));
    }
  }
}
