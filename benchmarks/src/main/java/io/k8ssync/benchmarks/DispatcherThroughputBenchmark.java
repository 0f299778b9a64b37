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
import java.util.HashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

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

  /**
   * A sink that does nothing but check per-pod order. The check itself is kept cheap (an index by
   * pod key built before the run, read-only while it runs, and one atomic slot per pod), so the
   * figure measures the dispatcher rather than the checker; {@code getAndSet} still catches two
   * workers applying one pod at once, which a plain array would not.
   */
  static final class OrderCheckingSink implements Sink {
    final Map<String, Integer> index;
    final AtomicLongArray lastVersion;
    final AtomicLong applied = new AtomicLong();
    final AtomicLong violations = new AtomicLong();

    OrderCheckingSink(Map<String, Integer> index) {
      this.index = index;
      this.lastVersion = new AtomicLongArray(index.size());
    }

    @Override
    public void apply(List<PodChange> batch) {
      for (PodChange c : batch) {
        PodState s = c.latest();
        long v = Long.parseLong(s.resourceVersion());
        long prior = lastVersion.getAndSet(index.get(s.key()), v);
        if (prior >= v) {
          violations.incrementAndGet();
        }
      }
      applied.addAndGet(batch.size());
    }

    @Override
    public void close() {}
  }

  private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

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
    String[] names = new String[pods];
    Map<String, Integer> index = new HashMap<>();
    for (int p = 0; p < pods; p++) {
      names[p] = "pod-" + p;
      index.put(PodState.key("bench", "ns", names[p]), p);
    }
    OrderCheckingSink[] checks = new OrderCheckingSink[sinks];
    for (int s = 0; s < sinks; s++) {
      checks[s] = new OrderCheckingSink(index);
      dispatcher.add(new SinkRunner("noop-" + s, checks[s], Selector.ALL,
          new SinkRunner.Settings(workers, 1_000_000, 5, false, RetryBackoff.Settings.DEFAULTS), dispatcher.timer(), metrics));
    }
    cache.addListener(dispatcher);
    dispatcher.start();

    long[] lastProduced = new long[pods];
    long cpu0 = processCpuNanos();
    long switches0 = contextSwitches();
    long producerCpu0 = THREADS.getCurrentThreadCpuTime();
    long workersCpu0 = workersCpuNanos();
    long t0 = System.nanoTime();
    for (long i = 0; i < changes; i++) {
      int p = (int) (i % pods);
      long version = i + 1;
      lastProduced[p] = version;
      cache.put(new PodState("bench", "ns", names[p], "uid-" + p, "svc", "10.0.0." + (p % 250), null, 8080, "node",
          PodState.Phase.RUNNING, (i / pods) % 2 == 0, false, 1, Map.of(), Map.of(), Map.of(), Long.toString(version), 0, 0, null));
    }
    long produced = System.nanoTime();
    long producerCpu = THREADS.getCurrentThreadCpuTime() - producerCpu0;
    for (SinkRunner r : dispatcher.runners()) {
      if (!r.queue().awaitIdle(5, TimeUnit.MINUTES)) {
        throw new IllegalStateException("sink did not catch up: " + r.name());
      }
    }
    long done = System.nanoTime();
    long cpu = processCpuNanos() - cpu0;
    long workersCpu = workersCpuNanos() - workersCpu0;
    long switches = contextSwitches() - switches0;
    dispatcher.shutdown(java.time.Duration.ofSeconds(5));

    long applied = 0;
    for (OrderCheckingSink c : checks) {
      applied += c.applied.get();
      if (c.violations.get() > 0) {
        throw new IllegalStateException("per-pod order violated " + c.violations.get() + " times");
      }
      for (int p = 0; p < pods; p++) {
        if (c.lastVersion.get(p) != lastProduced[p]) {
          throw new IllegalStateException("pod " + p + " did not end at its latest state");
        }
      }
    }
    if (print) {
      double seconds = (done - t0) / 1e9;
      System.out.printf("changes/s=%,.0f (into %d sinks; all applied in %.2fs, producer done in %.2fs) applies=%d "
              + "(coalesced %.1f%%) order=kept latest-state=reached cpu=%.2fs (%.2f us/change; the producer thread %.2f us:"
              + " building the PodState, cache, dispatch; the sinks' workers %.2f us) context-switches/change=%.2f%n",
          changes / seconds, sinks, seconds, (produced - t0) / 1e9, applied,
          100.0 * (1 - applied / (double) (changes * sinks)), cpu / 1e9, cpu / 1e3 / changes, producerCpu / 1e3 / changes, workersCpu / 1e3 / changes, switches / (double) changes);
    }
  }

  /** CPU time of the sinks' worker threads ({@code sink-*}), nanoseconds. */
  private static long workersCpuNanos() {
    long sum = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("sink-")) {
        sum += Math.max(0, THREADS.getThreadCpuTime(t.getId()));
      }
    }
    return sum;
  }

  /** CPU time of the whole process (all threads, GC and JIT included), nanoseconds. */
  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** Voluntary and involuntary context switches of all the process's threads so far (Linux; 0 elsewhere). */
  private static long contextSwitches() {
    long sum = 0;
    java.io.File[] tasks = new java.io.File("/proc/self/task").listFiles();
    if (tasks == null) {
      return 0;
    }
    for (java.io.File t : tasks) {
      try {
        for (String line : java.nio.file.Files.readAllLines(new java.io.File(t, "status").toPath())) {
          if (line.contains("ctxt_switches:")) {
            sum += Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
          }
        }
      } catch (java.io.IOException | RuntimeException e) {
        // a thread that ended meanwhile
      }
    }
    return sum;
  }
}
