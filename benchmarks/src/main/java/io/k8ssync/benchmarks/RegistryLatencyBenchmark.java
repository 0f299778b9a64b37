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
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;

/**
 * Ready → visible in the registry, p50/p99, with 1,000 pods churning, for the zookeeper and the
 * consul sink, through the daemon's own cache, dispatcher and sink queue. A separate reader plays
 * nginx: a CuratorCache on the upstream root for ZooKeeper, upsync's blocking recurse query for
 * Consul. The clock starts when the pod's ready state enters the cache and stops when the reader
 * first sees that address with down:0.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.k8ssync.benchmarks.RegistryLatencyBenchmark
 * [pods] [seconds] [changesPerSecond]}; Consul comes from the test bed (scripts/testbed/build-consul.sh).
 * {@code -Dregistry.sinks=consul} runs one sink; {@code -Dregistry.zkDataDir=/dev/shm} keeps ZooKeeper's log on tmpfs; {@code -Dregistry.rounds=2} runs Consul twice in one JVM (JIT cold,
 * then warm); {@code -Dregistry.allReady=true} starts with every pod ready. For Consul it also prints the
 * requests the sink sent, by kind, per pod change ({@link ConsulProxy} between sink and Consul; the
 * reader that plays nginx asks Consul directly) and the CPU of the start-up registration.
 */
public final class RegistryLatencyBenchmark {

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  private final Map<String, Long> readyAt = new ConcurrentHashMap<>();
  private final List<Long> latencies = java.util.Collections.synchronizedList(new ArrayList<>());

  public static void main(String[] args) throws Exception {
    int pods = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int seconds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
    int rate = args.length > 2 ? Integer.parseInt(args[2]) : 200;
    System.out.printf("pods=%d seconds=%d churn=%d changes/s cores=%d%n", pods, seconds, rate, Runtime.getRuntime().availableProcessors());
    System.out.println("| sink | ready events measured | p50 | p90 | p99 | max |");
    System.out.println("|---|---|---|---|---|---|");
    String sinks = System.getProperty("registry.sinks", "zookeeper,consul");
    int rounds = Integer.getInteger("registry.rounds", 1);
    if (sinks.contains("zookeeper")) {
      // -Dregistry.zkDataDir=/dev/shm puts ZooKeeper's transaction log on tmpfs: on this shared disk its fsync
      // (tens of ms under load, JFR FileForce) is the tail, not the sink; a production ensemble has its own disk.
      String zkDataDir = System.getProperty("registry.zkDataDir");
      java.io.File zkDir = zkDataDir == null ? null : java.nio.file.Files.createTempDirectory(java.nio.file.Path.of(zkDataDir), "zk-bench").toFile();
      try (TestingServer zk = zkDir == null ? new TestingServer(true) : new TestingServer(-1, zkDir, true)) {
        new RegistryLatencyBenchmark().run("zookeeper", new ZooKeeperSinkFactory(),
            Map.of("connect", zk.getConnectString(), "drainDelay", "1s"), zkReader(zk.getConnectString()), null, pods, seconds, rate);
      }
    }
    if (sinks.contains("consul")) {
      for (int round = 1; round <= rounds; round++) {
        // A fresh agent each round: round 1 starts with a cold JIT, later rounds with a warm one.
        try (ConsulAgent consul = ConsulAgent.started(); ConsulProxy proxy = new ConsulProxy(consul.url())) {
          new RegistryLatencyBenchmark().run(rounds == 1 ? "consul" : "consul (round " + round + (round == 1 ? ", JIT cold)" : ", JIT warm)"),
              new ConsulSinkFactory(), Map.of("url", proxy.url(), "drainDelay", "1s"), consulReader(consul.url()),
              new Probe(proxy, consul), pods, seconds, rate);
        }
      }
    }
    System.out.println();
    for (String line : SUMMARY) {
      System.out.println(line);
    }
  }

  private static final List<String> SUMMARY = new ArrayList<>();
  /** {@code -Dregistry.allReady=true}: every pod starts ready (the start-up registration of all of them), else half at random. */
  private static final boolean ALL_READY = Boolean.getBoolean("registry.allReady");

  /** What the benchmark counts besides latency, for a Consul sink: its requests (through the proxy) and the agent's CPU. */
  record Probe(ConsulProxy proxy, ConsulAgent agent) {}

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** Starts a reader that calls {@code seen(address)} whenever an address is visible with down:0. */
  interface Reader {
    AutoCloseable start(java.util.function.Consumer<String> seen) throws Exception;
  }

  private static Reader zkReader(String connect) {
    return seen -> {
      CuratorFramework c = CuratorFrameworkFactory.newClient(connect, new RetryOneTime(100));
      c.start();
      CuratorCache cache = CuratorCache.build(c, "/nginx/upstreams");
      cache.listenable().addListener(CuratorCacheListener.builder().forCreatesAndChanges((old, node) -> {
        String path = node.getPath();
        byte[] data = node.getData();
        if (data != null && new String(data, StandardCharsets.UTF_8).contains("\"down\":0")) {
          seen.accept(path.substring(path.lastIndexOf('/') + 1));
        }
      }).build());
      cache.start();
      return () -> {
        cache.close();
        c.close();
      };
    };
  }

  private static Reader consulReader(String url) {
    return seen -> {
      AtomicBoolean running = new AtomicBoolean(true);
      Thread t = new Thread(() -> {
        HttpClient http = HttpClient.newHttpClient();
        long index = 0;
        Map<String, String> last = new ConcurrentHashMap<>();
        while (running.get()) {
          try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/kv/upstreams/bench/?recurse&index=" + index + "&wait=2s"))
                .build(), HttpResponse.BodyHandlers.ofString());
            index = r.headers().firstValueAsLong("X-Consul-Index").orElse(index);
            if (r.statusCode() != 200) {
              continue;
            }
            for (com.fasterxml.jackson.databind.JsonNode kv : JSON.readTree(r.body())) {
              String key = kv.get("Key").asText();
              String addr = key.substring(key.lastIndexOf('/') + 1);
              String value = kv.get("Value").isNull() ? "" : new String(Base64.getDecoder().decode(kv.get("Value").asText()), StandardCharsets.UTF_8);
              if (!value.equals(last.put(addr, value)) && value.contains("\"down\":0")) {
                seen.accept(addr);
              }
            }
          } catch (Exception e) {
            // keep polling; a benchmark reader should not die on one bad response
          }
        }
      }, "consul-reader");
      t.start();
      return () -> {
        running.set(false);
        t.join();
      };
    };
  }

  private void run(String name, SinkFactory factory, Map<String, Object> config, Reader reader, Probe probe, int pods, int seconds,
                   int rate) throws Exception {
    PodStateCache cache = new PodStateCache();
    cache.syncedWhen(() -> true);
    BenchContext ctx = new BenchContext(name, factory, config, cache, false);
    DaemonMetrics metrics = ctx.daemonMetrics();
    Sink sink = factory.create(ctx);
    sink.start();
    Dispatcher dispatcher = new Dispatcher(metrics);
    dispatcher.add(new SinkRunner(name, sink, Selector.ALL, new SinkRunner.Settings(4, 1_000_000, 5, false,
        RetryBackoff.Settings.DEFAULTS), dispatcher.timer(), metrics));
    cache.addListener(dispatcher);
    dispatcher.start();
    Random random = new Random(7);
    boolean[] ready = new boolean[pods];
    long version = 0;
    Map<String, Long> countsBefore = probe == null ? Map.of() : probe.proxy().counts();
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
          (probe.agent().cpuTime().toNanos() - agentCpu0) / 1e9, ConsulProxy.since(countsBefore, probe.proxy().counts())));
    }
    // The reader starts on the registered state: only churn is measured.
    readyAt.clear();
    AutoCloseable stopReader = reader.start(addr -> {
      Long t = readyAt.remove(addr);
      if (t != null) {
        latencies.add(System.nanoTime() - t);
      }
    });
    latencies.clear();
    Map<String, Long> churnBefore = probe == null ? Map.of() : probe.proxy().counts();
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
    stopReader.close();
    if (probe != null) {
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

    long[] ns = latencies.stream().mapToLong(Long::longValue).toArray();
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

  private static double pct(long[] sorted, int p) {
    if (sorted.length == 0) {
      return 0;
    }
    int idx = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(idx, sorted.length - 1))] / 1e6;
  }
}
