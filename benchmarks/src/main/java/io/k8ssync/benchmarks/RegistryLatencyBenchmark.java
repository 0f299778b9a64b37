package io.k8ssync.benchmarks;

import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.dispatch.Dispatcher;
import io.k8ssync.daemon.dispatch.RetryBackoff;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.consul.ConsulSinkFactory;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.ConsulProxy;
import io.k8ssync.sink.zookeeper.ZooKeeperSinkFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.curator.test.TestingServer;

/**
 * Ready → visible in the registry, p50/p99, with 1,000 pods churning, for the zookeeper and the
 * consul sink, through the daemon's own cache, dispatcher and sink queue. A reader plays nginx: by
 * default in its own JVM ({@link NginxStandIn}: upsync's blocking recurse query for Consul, scanned
 * cheaply; watches on the upstream's children and data for ZooKeeper), with {@code
 * -Dregistry.reader=old} the first in-process readers ({@link InProcessReaders}), {@code
 * -Dregistry.reader=process,old} both in turn. The clock starts when the pod's ready state enters the
 * cache and stops when the reader first sees that address with down:0, by its own clock reading.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.k8ssync.benchmarks.RegistryLatencyBenchmark
 * [pods] [seconds] [changesPerSecond]}; Consul comes from the test bed (scripts/testbed/build-consul.sh).
 * {@code -Dregistry.sinks=consul} runs one sink; {@code -Dregistry.zkDataDir=/dev/shm} keeps ZooKeeper's log on tmpfs;
 * {@code -Dregistry.zkProcess=true} runs ZooKeeper in its own JVM ({@link ZooKeeperProcess}) instead of in this one; {@code -Dregistry.rounds=2} runs each sink twice in one JVM (JIT cold,
 * then warm), each round against a fresh server; {@code -Dregistry.allReady=true} starts with every pod ready;
 * {@code -Dregistry.trace=DIR} writes each measured event (ms since churn start, latency ms) to a CSV per run;
 * {@code -Dregistry.gcBeforeChurn=true} has this JVM and ZooKeeper's collect once before the churn (the ZooKeeper
 * stand-in always does). The
 * summary gives each JVM's GC pauses over the churn (ZooKeeper's from its {@code -Xlog:gc}, {@code -Dregistry.zkFlags}
 * adds flags to its JVM, {@code -Dregistry.readerFlags} to the stand-in's).
 * For Consul it also prints the requests the sink sent, by kind, per pod change ({@link ConsulProxy}
 * between sink and Consul; the reader asks Consul directly) and the CPU of the start-up
 * registration; {@code -Dregistry.proxy=false} leaves the proxy out (latency rounds without its hop and CPU), and
 * {@code -Dregistry.countingRound=true} then adds one Consul round through it to count the requests; with
 * {@code -Dregistry.zkProcess=true} it also counts each ZooKeeper round's requests per session (the server's {@code cons}),
 * 1.5 s after the churn so the last deletions are in.
 */
public final class RegistryLatencyBenchmark {

  private final Map<String, Long> readyAt = new ConcurrentHashMap<>();
  /** Measured events: {ready time, latency}, ns. */
  private final List<long[]> latencies = java.util.Collections.synchronizedList(new ArrayList<>());

  public static void main(String[] args) throws Exception {
    int pods = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
    int rate = args.length > 2 ? Integer.parseInt(args[2]) : 200;
    System.out.printf("pods=%d seconds=%d churn=%d changes/s cores=%d%n", pods, seconds, rate, Runtime.getRuntime().availableProcessors());
    System.out.println("| sink | ready events measured | p50 | p90 | p99 | max |");
    System.out.println("|---|---|---|---|---|---|");
    String sinks = System.getProperty("registry.sinks", "zookeeper,consul");
    int rounds = Integer.getInteger("registry.rounds", 1);
    List<String> readers = List.of(System.getProperty("registry.reader", "process").split(","));
    boolean proxied = Boolean.parseBoolean(System.getProperty("registry.proxy", "true"));
    for (String sink : List.of("zookeeper", "consul")) {
      if (!sinks.contains(sink)) {
        continue;
      }
      for (int round = 1; round <= rounds; round++) {
        for (String reader : readers) {
          String name = sink + " (" + reader + " reader" + (rounds == 1 ? ")" : ", round " + round + (round == 1 ? ", JIT cold)" : ", JIT warm)"));
          // A fresh server each round: round 1 starts with a cold JIT, later rounds with a warm one.
          if (sink.equals("zookeeper")) {
            runZooKeeper(name, reader, pods, seconds, rate);
          } else {
            runConsul(name, reader, proxied, pods, seconds, rate);
          }
        }
      }
      if (sink.equals("consul") && !proxied && Boolean.getBoolean("registry.countingRound")) {
        runConsul("consul (" + readers.get(0) + " reader, counting proxy)", readers.get(0), true, pods, seconds, rate);
      }
    }
    System.out.println();
    for (String line : SUMMARY) {
      System.out.println(line);
    }
  }

  private static final List<String> SUMMARY = new ArrayList<>();
  /**
   * {@code -Dregistry.drainDelay}: the sinks' drain delay, 1s by default; a delay longer than the churn (60s) takes the
   * deletions, and their upstream locks, out of the measured window, to see what they add.
   */
  private static final String DRAIN_DELAY = System.getProperty("registry.drainDelay", "1s");
  /** {@code -Dregistry.allReady=true}: every pod starts ready (the start-up registration of all of them), else half at random. */
  private static final boolean ALL_READY = Boolean.getBoolean("registry.allReady");

  /** What the benchmark counts besides latency, for a Consul sink: its requests (through the proxy) and the agent's CPU. */
  record Probe(ConsulProxy proxy, ConsulAgent agent) {}

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** Starts a reader that calls {@code seen(address, nanoTime)} whenever an address is visible with down:0. */
  interface Reader {
    AutoCloseable start(NginxStandIn.Seen seen) throws Exception;
  }

  private static void runZooKeeper(String name, String reader, int pods, int seconds, int rate) throws Exception {
    // -Dregistry.zkDataDir=/dev/shm puts ZooKeeper's transaction log on tmpfs: on this shared disk its fsync
    // (tens of ms under load, JFR FileForce) is the tail, not the sink; a production ensemble has its own disk.
    String zkDataDir = System.getProperty("registry.zkDataDir");
    if (Boolean.getBoolean("registry.zkProcess")) {
      try (ZooKeeperProcess zk = ZooKeeperProcess.start(java.nio.file.Path.of(zkDataDir == null ? System.getProperty("java.io.tmpdir") : zkDataDir))) {
        runZooKeeper(name, reader, zk.connectString(), zk, pods, seconds, rate);
      }
      return;
    }
    java.io.File zkDir = zkDataDir == null ? null : java.nio.file.Files.createTempDirectory(java.nio.file.Path.of(zkDataDir), "zk-bench").toFile();
    try (TestingServer zk = zkDir == null ? new TestingServer(true) : new TestingServer(-1, zkDir, true)) {
      runZooKeeper(name, reader, zk.getConnectString(), null, pods, seconds, rate);
    }
  }

  private static void runZooKeeper(String name, String reader, String connect, ZooKeeperProcess server, int pods, int seconds, int rate)
      throws Exception {
    RegistryLatencyBenchmark b = new RegistryLatencyBenchmark();
    b.server = server;
    b.run(name, new ZooKeeperSinkFactory(), Map.of("connect", connect, "drainDelay", DRAIN_DELAY),
        reader.equals("old") ? InProcessReaders.zookeeper(connect) : standIn("zookeeper", connect, "/nginx/upstreams"), null,
        pods, seconds, rate);
  }

  /** ZooKeeper in its own JVM, when it is: its GC pauses over the churn go to the summary. */
  private ZooKeeperProcess server;
  /**
   * {@code -Dregistry.gcBeforeChurn=true}: this JVM and ZooKeeper's own collect once after the start-up registration,
   * before the churn, so the start-up's garbage is not collected inside the measured window (what a long-running
   * daemon and server have long done); the churn's own collections still fall in it, and are printed. With G1 (the
   * server's default) it backfires: the full collection shrinks the heap, and the server then paused 8-10 times in a
   * churn instead of 3.
   */
  private static final boolean GC_BEFORE_CHURN = Boolean.getBoolean("registry.gcBeforeChurn");

  private static void runConsul(String name, String reader, boolean proxied, int pods, int seconds, int rate) throws Exception {
    try (ConsulAgent consul = ConsulAgent.started(); ConsulProxy proxy = proxied ? new ConsulProxy(consul.url()) : null) {
      new RegistryLatencyBenchmark().run(name, new ConsulSinkFactory(), Map.of("url", proxied ? proxy.url() : consul.url(), "drainDelay", DRAIN_DELAY),
          reader.equals("old") ? InProcessReaders.consul(consul.url()) : standIn("consul", consul.url(), "upstreams/bench/"),
          new Probe(proxy, consul), pods, seconds, rate);
    }
  }

  /** The reader in its own JVM ({@link NginxStandIn}); its CPU over the churn goes to the summary. */
  private static Reader standIn(String... args) {
    return seen -> {
      StandInProcess p = StandInProcess.start(seen, args);
      double cpu0 = p.cpuSeconds();
      STAND_IN_NOTE.set(String.format("clock check round trip ≤ %.0f µs", p.clockCheckRoundTripNanos / 1e3));
      return () -> {
        STAND_IN_NOTE.set(STAND_IN_NOTE.get() + String.format(", reader process CPU over churn %.2f s; reader: %s", p.cpuSeconds() - cpu0,
            p.stats()));
        p.close();
      };
    };
  }

  private static final ThreadLocal<String> STAND_IN_NOTE = ThreadLocal.withInitial(() -> "");

  private void run(String name, SinkFactory factory, Map<String, Object> config, Reader reader, Probe probe, int pods, int seconds,
                   int rate) throws Exception {
    PodStateCache cache = new PodStateCache();
    cache.syncedWhen(() -> true);
    BenchContext ctx = new BenchContext(name, factory, config, cache, false);
    DaemonMetrics metrics = ctx.daemonMetrics();
    TimedSink sink = new TimedSink(factory.create(ctx));
    sink.start();
    Dispatcher dispatcher = new Dispatcher(metrics);
    dispatcher.add(new SinkRunner(name, sink, Selector.ALL, new SinkRunner.Settings(4, 1_000_000, 5, false,
        RetryBackoff.Settings.DEFAULTS), dispatcher.timer(), metrics));
    cache.addListener(dispatcher);
    dispatcher.start();
    Random random = new Random(7);
    boolean[] ready = new boolean[pods];
    long version = 0;
    boolean counting = probe != null && probe.proxy() != null;
    Map<String, Long> countsBefore = counting ? probe.proxy().counts() : Map.of();
    long cpu0 = processCpuNanos();
    long agentCpu0 = probe == null ? 0 : probe.agent().cpuTime().toNanos();
    long t0 = System.nanoTime();
    int initiallyReady = 0;
    for (int i = 0; i < pods; i++) {
      ready[i] = random.nextBoolean() || ALL_READY;
      initiallyReady += ready[i] ? 1 : 0;
      put(cache, i, ready[i], ++version);
    }
    dispatcher.runners().iterator().next().queue().awaitIdle(120, java.util.concurrent.TimeUnit.SECONDS);
    if (probe != null) {
      SUMMARY.add(String.format("%s start-up: %d ready pods of %d registered in %.0f ms, process CPU %.2f s, Consul agent CPU %.2f s,"
              + " requests %s", name, initiallyReady, pods, (System.nanoTime() - t0) / 1e6, (processCpuNanos() - cpu0) / 1e9,
          (probe.agent().cpuTime().toNanos() - agentCpu0) / 1e9, counting ? ConsulProxy.since(countsBefore, probe.proxy().counts()) : "not counted (no proxy)"));
    }
    if (GC_BEFORE_CHURN) {
      System.gc();
      if (server != null) {
        server.collect();
      }
    }
    // The reader starts on the registered state: only churn is measured.
    readyAt.clear();
    STAND_IN_NOTE.set("");
    AutoCloseable stopReader = reader.start((addr, nanos) -> {
      Long t = readyAt.get(addr);
      // A sighting older than the pod's latest ready belongs to an earlier one (it can arrive late through the pipe).
      if (t != null && nanos >= t && readyAt.remove(addr, t)) {
        long[] a = sink.applied(addr);
        latencies.add(a != null && a[0] >= t ? new long[] {t, nanos - t, a[0] - t, a[1] - a[0], nanos - a[1]}
            : new long[] {t, nanos - t, -1, -1, -1});
      }
    });
    latencies.clear();
    boolean countingZk = server != null && Boolean.getBoolean("registry.countingRound");
    java.util.SortedMap<Long, Long> zkBefore = countingZk ? server.requestsBySession() : null;
    Map<String, Long> churnBefore = counting ? probe.proxy().counts() : Map.of();
    long churnCpu0 = processCpuNanos();
    GcPauses.Watch gc = GcPauses.watch();
    long churnStartEpochMillis = System.currentTimeMillis();
    long churnStart = System.nanoTime();
    long changes = 0;
    long end = System.nanoTime() + seconds * 1_000_000_000L;
    long interval = 1_000_000_000L / rate;
    long next = System.nanoTime();
    while (System.nanoTime() < end) {
      int i = random.nextInt(pods);
      ready[i] = !ready[i];
      put(cache, i, ready[i], ++version);
      changes++;
      next += interval;
      long wait = next - System.nanoTime();
      if (wait > 0) {
        java.util.concurrent.locks.LockSupport.parkNanos(wait); // pacing the load generator, not a test wait
      }
    }
    dispatcher.runners().iterator().next().queue().awaitIdle(120, java.util.concurrent.TimeUnit.SECONDS);
    long settle = System.nanoTime() + 3_000_000_000L;
    while (!readyAt.isEmpty() && System.nanoTime() < settle) {
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
    }
    long churnCpu = processCpuNanos() - churnCpu0;
    if (countingZk) {
      // Deletions fall due a drain delay (1 s) after their change: wait for the last ones before counting.
      long due = System.nanoTime() + 1_500_000_000L;
      while (System.nanoTime() < due) {
        java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
      }
      java.util.SortedMap<Long, Long> after = server.requestsBySession();
      long sinkSession = zkBefore.firstKey(); // opened at the sink's start, before the stand-in's
      long sinkRequests = after.getOrDefault(sinkSession, 0L) - zkBefore.get(sinkSession);
      long others = 0;
      for (Map.Entry<Long, Long> e : after.entrySet()) {
        others += e.getKey() == sinkSession ? 0 : e.getValue() - zkBefore.getOrDefault(e.getKey(), 0L);
      }
      SUMMARY.add(String.format("%s churn: %d pod changes, ZooKeeper requests (cons, by session) of the sink %d, %.3f per change;"
          + " of the stand-in %d", name, changes, sinkRequests, sinkRequests / (double) changes, others));
    }
    SUMMARY.add(String.format("%s GC pauses over the churn (from %s): benchmark JVM %s%s", name,
        java.time.Instant.ofEpochMilli(churnStartEpochMillis), gc.stop(),
        server == null ? "" : "; ZooKeeper server " + server.gcPauses(churnStartEpochMillis, System.currentTimeMillis())));
    stopReader.close();
    SUMMARY.add(String.format("%s churn: load average %s, benchmark process CPU %.2f s%s%s", name, loadAverage(), churnCpu / 1e9,
        STAND_IN_NOTE.get().isEmpty() ? " (reader inside it)" : ", ", STAND_IN_NOTE.get()));
    if (counting) {
      // Deletions fall due a drain delay (1 s) after their change: wait for the last ones before counting.
      long due = System.nanoTime() + 1_500_000_000L;
      while (System.nanoTime() < due) {
        java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L);
      }
      Map<String, Long> churn = ConsulProxy.since(churnBefore, probe.proxy().counts());
      StringBuilder per = new StringBuilder();
      for (Map.Entry<String, Long> e : churn.entrySet()) {
        per.append(String.format(" %s=%.2f", e.getKey(), e.getValue() / (double) changes));
      }
      SUMMARY.add(String.format("%s churn: %d pod changes, requests %s, per change:%s", name, changes, churn, per));
    }
    dispatcher.shutdown(java.time.Duration.ofSeconds(5));
    StringBuilder counters = new StringBuilder();
    metrics.registry().scrape().stream()
        .filter(m -> m.getMetadata().getPrometheusName().matches("k8s_sync_(sink_retries|sink_failures|queue_dropped|upstream_removals_held)"))
        .forEach(m -> m.getDataPoints().forEach(d -> counters.append(' ').append(m.getMetadata().getPrometheusName())
            .append(d.getLabels()).append('=')
            .append(((io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot) d).getValue())));
    System.err.println(name + " counters:" + counters);

    String trace = System.getProperty("registry.trace");
    if (trace != null) {
      StringBuilder csv = new StringBuilder("ready_ms,latency_ms,to_apply_ms,apply_ms,after_apply_ms\n");
      synchronized (latencies) {
        for (long[] e : latencies) {
          csv.append(String.format("%.3f,%.3f,%.3f,%.3f,%.3f%n", (e[0] - churnStart) / 1e6, e[1] / 1e6, e[2] / 1e6, e[3] / 1e6, e[4] / 1e6));
        }
      }
      java.nio.file.Files.writeString(java.nio.file.Path.of(trace, name.replaceAll("[^A-Za-z0-9]+", "-") + ".csv"), csv);
    }
    SUMMARY.add(name + " split: " + split(latencies));
    long[] ns = latencies.stream().mapToLong(e -> e[1]).toArray();
    Arrays.sort(ns);
    System.out.printf("| %s | %d (%d not seen) | %.1f ms | %.1f ms | %.1f ms | %.1f ms |%n", name, ns.length, readyAt.size(),
        pct(ns, 50), pct(ns, 90), pct(ns, 99), ns.length == 0 ? 0 : ns[ns.length - 1] / 1e6);
  }

  private void put(PodStateCache cache, int i, boolean isReady, long version) {
    String ip = "10.1." + (i / 250) + "." + (i % 250 + 1);
    PodState p = new PodState("bench", "ns", "pod-" + i, "uid-" + i, "bench", ip, null, 8080, "node",
        PodState.Phase.RUNNING, isReady, false, 1, Map.of(), Map.of(), Map.of(), Long.toString(version), 0, 0, null);
    if (isReady) {
      readyAt.put(ip + ":8080", System.nanoTime());
    } else {
      readyAt.remove(ip + ":8080");
    }
    cache.put(p);
  }

  /**
   * Where the time of the slowest 1% went, on average: ready → the sink's apply of its batch, the
   * apply call, apply's return → seen; and each part's p50/p99 over all events.
   */
  private static String split(List<long[]> events) {
    List<long[]> known;
    synchronized (events) {
      known = events.stream().filter(e -> e[2] >= 0).sorted(java.util.Comparator.comparingLong(e -> -e[1])).toList();
    }
    if (known.isEmpty()) {
      return "no event matched to an apply";
    }
    List<long[]> slow = known.subList(0, Math.max(1, known.size() / 100));
    StringBuilder b = new StringBuilder(String.format("slowest 1%% (%d, from %.1f ms) on average: to apply %.1f ms, apply %.1f ms,"
        + " apply → seen %.1f ms; over all %d matched:", slow.size(), slow.get(slow.size() - 1)[1] / 1e6,
        slow.stream().mapToLong(e -> e[2]).average().orElse(0) / 1e6, slow.stream().mapToLong(e -> e[3]).average().orElse(0) / 1e6,
        slow.stream().mapToLong(e -> e[4]).average().orElse(0) / 1e6, known.size()));
    String[] parts = {"to apply", "apply", "apply → seen"};
    for (int i = 0; i < 3; i++) {
      int col = i + 2;
      long[] v = known.stream().mapToLong(e -> e[col]).sorted().toArray();
      b.append(String.format(" %s p50 %.1f / p99 %.1f ms;", parts[i], pct(v, 50), pct(v, 99)));
    }
    return b.toString();
  }

  /** The host's 1/5/15-minute load averages: the machine is shared, a figure is read with them. */
  private static String loadAverage() {
    try {
      String[] f = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }

  private static double pct(long[] sorted, int p) {
    if (sorted.length == 0) {
      return 0;
    }
    int idx = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(idx, sorted.length - 1))] / 1e6;
  }
}
