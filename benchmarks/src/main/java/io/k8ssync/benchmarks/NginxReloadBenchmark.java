package io.k8ssync.benchmarks;

import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.dispatch.Dispatcher;
import io.k8ssync.daemon.dispatch.RetryBackoff;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.nginx.NginxSinkFactory;
import io.k8ssync.sink.testbed.HttpBackend;
import io.k8ssync.sink.testbed.Nginx;
import io.k8ssync.sink.testbed.RequestLoop;
import io.k8ssync.sink.testbed.TestBed;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * The nginx sink with its default debounce (minWait 1s, maxWait 3s, minReloadInterval 2s) against a
 * real nginx, through the daemon's own cache, dispatcher and sink queue:
 * <ul>
 *   <li>pod ready → first request routed to it through nginx (p50, p99): 20 pods of upstream
 *       {@code web}, each a real HTTP server on a loopback address, one of them flipping ready or
 *       not every 2 s, while requests flow through nginx without pause; first with nothing else
 *       changing, then during the churn;</li>
 *   <li>the churn: 1,000 pods of upstream {@code churn} flipping at {@code rate} changes/s for
 *       {@code seconds}: reloads per minute, and nginx's worker processes sampled every 5 s (their
 *       growth is what frequent reloads risk).</li>
 * </ul>
 * Usage: {@code java -cp benchmarks/target/benchmarks.jar io.k8ssync.benchmarks.NginxReloadBenchmark [seconds] [rate] [quietSeconds]};
 * nginx comes from the test bed (scripts/testbed/nginx.sh).
 */
public final class NginxReloadBenchmark {

  private static final int WEB = 20;
  private static final int CHURN = 1000;

  private final PodStateCache cache = new PodStateCache();
  private final int port = TestBed.freePort();
  private final List<HttpBackend> backends = new ArrayList<>();
  private final Map<Integer, long[]> readyAt = new ConcurrentHashMap<>();
  private final List<Long> latencies = java.util.Collections.synchronizedList(new ArrayList<>());
  private long version;

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 600;
    int rate = args.length > 1 ? Integer.parseInt(args[1]) : 200;
    int quiet = args.length > 2 ? Integer.parseInt(args[2]) : 90;
    new NginxReloadBenchmark().run(seconds, rate, quiet);
  }

  private void run(int seconds, int rate, int quietSeconds) throws Exception {
    Path dir = Files.createTempDirectory("nginx-bench-");
    try (Nginx nginx = Nginx.started(dir)) {
      cache.syncedWhen(() -> true);
      BenchContext ctx = new BenchContext("nginx", new NginxSinkFactory(), nginx.sinkConfig(), cache, false);
      DaemonMetrics metrics = ctx.daemonMetrics();
      Sink sink = new NginxSinkFactory().create(ctx);
      sink.start();
      Dispatcher dispatcher = new Dispatcher(metrics);
      dispatcher.add(new SinkRunner("nginx", sink, Selector.ALL, new SinkRunner.Settings(2, 1_000_000, 5, false,
          RetryBackoff.Settings.DEFAULTS), dispatcher.timer(), metrics));
      cache.addListener(dispatcher);
      dispatcher.start();
      sink.podsSynced();
      for (int i = 0; i < WEB; i++) {
        backends.add(HttpBackend.started("web-" + i, webIp(i), port));
        put("web", i, webIp(i), true);
      }
      Random random = new Random(7);
      boolean[] churnReady = new boolean[CHURN];
      for (int i = 0; i < CHURN; i++) {
        churnReady[i] = random.nextBoolean();
        put("churn", i, churnIp(i), churnReady[i]);
      }
      org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30))
          .until(() -> gauge(metrics, "k8s_sync_nginx_pending_since_timestamp_seconds") == 0
              && counter(metrics, "k8s_sync_nginx_reloads", "ok") >= 1);
      System.out.printf("nginx %s, 2 workers, worker_shutdown_timeout 10s; sink defaults (minWait 1s, maxWait 3s,"
          + " minReloadInterval 2s, drainDelay 10s); cores=%d%n", nginxVersion(nginx), Runtime.getRuntime().availableProcessors());
      try (RequestLoop requests = RequestLoop.started(nginx.port(), nginx.path("web"), 4)) {
        // The first 20 pods were ready before nginx started taking requests: not ready events to time.
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(30)).until(() -> requests.byBackend().size() == WEB);
        readyAt.clear();
        Thread watcher = watchFirstRequests();
        boolean[] webReady = new boolean[WEB];
        Arrays.fill(webReady, true);
        System.out.println("| phase | ready events routed | p50 | p99 | max | reloads/min | nginx children min/max (first min → last min) | failed requests |");
        System.out.println("|---|---|---|---|---|---|---|---|");

        phase("quiet (1 web change / 2 s)", quietSeconds, 0, random, webReady, churnReady, metrics, nginx, requests);
        phase("churn " + rate + " changes/s", seconds, rate, random, webReady, churnReady, metrics, nginx, requests);
        watcher.interrupt();
      }
      dispatcher.shutdown(java.time.Duration.ofSeconds(5));
      sink.close();
    } finally {
      backends.forEach(HttpBackend::stop);
    }
  }

  private void phase(String name, int seconds, int rate, Random random, boolean[] webReady, boolean[] churnReady,
                     DaemonMetrics metrics, Nginx nginx, RequestLoop requests) {
    latencies.clear();
    requests.reset();
    double reloads0 = counter(metrics, "k8s_sync_nginx_reloads", "ok");
    long start = System.nanoTime();
    long end = start + seconds * 1_000_000_000L;
    long interval = rate == 0 ? Long.MAX_VALUE : 1_000_000_000L / rate;
    long next = start;
    long nextWeb = start;
    long nextSample = start;
    List<int[]> samples = new ArrayList<>();
    while (System.nanoTime() < end) {
      long now = System.nanoTime();
      if (now >= nextWeb) {
        int i = random.nextInt(WEB);
        webReady[i] = !webReady[i];
        put("web", i, webIp(i), webReady[i]);
        nextWeb += 2_000_000_000L;
      }
      if (now >= nextSample) {
        samples.add(new int[] {(int) ((now - start) / 1_000_000_000L), nginx.workers().size()});
        nextSample += 5_000_000_000L;
      }
      if (rate > 0 && now >= next) {
        int i = random.nextInt(CHURN);
        churnReady[i] = !churnReady[i];
        put("churn", i, churnIp(i), churnReady[i]);
        next += interval;
      }
      long wait = Math.min(Math.min(nextWeb, nextSample), rate > 0 ? next : Long.MAX_VALUE) - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait); // pacing the load generator, not a test wait
      }
    }
    double minutes = (System.nanoTime() - start) / 60e9;
    double reloads = counter(metrics, "k8s_sync_nginx_reloads", "ok") - reloads0;
    long[] ns = latencies.stream().mapToLong(Long::longValue).toArray();
    Arrays.sort(ns);
    int min = samples.stream().mapToInt(s -> s[1]).min().orElse(0);
    int max = samples.stream().mapToInt(s -> s[1]).max().orElse(0);
    int firstMax = samples.stream().filter(s -> s[0] < 60).mapToInt(s -> s[1]).max().orElse(0);
    int lastMax = samples.stream().filter(s -> s[0] >= seconds - 60).mapToInt(s -> s[1]).max().orElse(0);
    System.out.printf("| %s, %d s | %d | %.0f ms | %.0f ms | %.0f ms | %.1f | %d/%d (%d → %d) | %d of %d |%n", name, seconds,
        ns.length, pct(ns, 50), pct(ns, 99), ns.length == 0 ? 0 : ns[ns.length - 1] / 1e6, reloads / minutes, min, max,
        firstMax, lastMax, requests.failed(), requests.ok() + requests.failed());
    System.err.println(name + ": reload results " + counters(metrics) + "; failures " + requests.failures());
  }

  /** Notices the first request each newly ready web pod serves. */
  private Thread watchFirstRequests() {
    Thread t = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        for (Map.Entry<Integer, long[]> e : readyAt.entrySet()) {
          long[] at = e.getValue();
          if (backends.get(e.getKey()).served() > at[1] && readyAt.remove(e.getKey(), at)) {
            latencies.add(System.nanoTime() - at[0]);
          }
        }
        LockSupport.parkNanos(1_000_000L);
      }
    }, "first-request-watcher");
    t.setDaemon(true);
    t.start();
    return t;
  }

  private void put(String service, int i, String ip, boolean ready) {
    PodState p = new PodState("bench", "ns", service + "-" + i, "uid-" + service + "-" + i, service, ip, null, port, "node",
        PodState.Phase.RUNNING, ready, false, 1, Map.of(), Map.of(), Map.of(), Long.toString(++version), 0, 0, null);
    if (service.equals("web")) {
      if (ready) {
        readyAt.put(i, new long[] {System.nanoTime(), backends.get(i).served()});
      } else {
        readyAt.remove(i);
      }
    }
    cache.put(p);
  }

  private static String webIp(int i) {
    return "127.0.3." + (i + 1);
  }

  private static String churnIp(int i) {
    return "127.0." + (4 + i / 250) + "." + (i % 250 + 1);
  }

  private static String nginxVersion(Nginx nginx) {
    try {
      Process p = new ProcessBuilder(nginx.binary().toString(), "-v").redirectErrorStream(true).start();
      return new String(p.getInputStream().readAllBytes()).strip().replace("nginx version: ", "");
    } catch (java.io.IOException e) {
      return "?";
    }
  }

  private static double counter(DaemonMetrics m, String name, String result) {
    return m.registry().scrape().stream().filter(s -> s.getMetadata().getPrometheusName().equals(name))
        .flatMap(s -> s.getDataPoints().stream()).filter(d -> result.equals(d.getLabels().get("result")))
        .mapToDouble(d -> ((CounterSnapshot.CounterDataPointSnapshot) d).getValue()).sum();
  }

  private static double gauge(DaemonMetrics m, String name) {
    return m.registry().scrape().stream().filter(s -> s.getMetadata().getPrometheusName().equals(name))
        .flatMap(s -> s.getDataPoints().stream()).mapToDouble(d -> ((GaugeSnapshot.GaugeDataPointSnapshot) d).getValue()).sum();
  }

  private static String counters(DaemonMetrics m) {
    StringBuilder b = new StringBuilder();
    m.registry().scrape().stream().filter(s -> s.getMetadata().getPrometheusName().startsWith("k8s_sync_nginx_")
            && s instanceof CounterSnapshot)
        .forEach(s -> s.getDataPoints().forEach(d -> b.append(' ').append(s.getMetadata().getPrometheusName())
            .append(d.getLabels()).append('=').append(((CounterSnapshot.CounterDataPointSnapshot) d).getValue())));
    return b.toString();
  }

  private static double pct(long[] sorted, int p) {
    if (sorted.length == 0) {
      return 0;
    }
    int idx = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(idx, sorted.length - 1))] / 1e6;
  }
}
