package io.k8ssync.benchmarks;

import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.dispatch.Dispatcher;
import io.k8ssync.daemon.dispatch.RetryBackoff;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.daemon.metrics.HealthServer;
import io.k8ssync.daemon.rollout.PodProgress;
import io.k8ssync.daemon.status.Status;
import io.k8ssync.daemon.status.StatusSettings;
import io.k8ssync.daemon.status.StatusSource;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Progress;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * How fast the status API and page answer from memory: a cache of N pods (50 per service, 3 sinks;
 * per sink 95% reported online, 3% failing, 2% not reported yet, i.e. pending), each query asked
 * over real HTTP on loopback through the daemon's own HealthServer, as `curl` or the page would.
 * Prints p50 / p99 / max milliseconds per query and the answer's size.
 *
 * <p>Usage: {@code java -Xmx4g -cp benchmarks/target/benchmarks.jar io.k8ssync.benchmarks.StatusQueryBenchmark [pods...]}
 */
public final class StatusQueryBenchmark {

  private static final int ROUNDS = 200;

  public static void main(String[] args) throws Exception {
    int[] sizes = args.length == 0 ? new int[] {10_000, 100_000} : Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
    System.out.printf("cores=%d rounds=%d%n", Runtime.getRuntime().availableProcessors(), ROUNDS);
    for (int pods : sizes) {
      run(pods);
    }
  }

  private static void run(int pods) throws Exception {
    DaemonMetrics metrics = new DaemonMetrics(new PrometheusRegistry());
    PodStateCache cache = new PodStateCache();
    PodProgress progress = new PodProgress();
    Dispatcher dispatcher = new Dispatcher(metrics);
    List<DaemonConfig.SinkSpec> specs = new ArrayList<>();
    List<Progress> reports = new ArrayList<>();
    for (String name : List.of("gateway", "zookeeper", "mysql")) {
      Sink noop = new Sink() {
        @Override public void apply(List<PodChange> batch) {}
        @Override public void close() {}
      };
      dispatcher.add(new SinkRunner(name, noop, Selector.ALL,
          new SinkRunner.Settings(1, 1_000_000, 5, false, RetryBackoff.Settings.DEFAULTS), dispatcher.timer(), metrics));
      specs.add(new DaemonConfig.SinkSpec(name, "noop", Selector.ALL, null, null));
      reports.add(progress.forSink(name));
    }
    StatusSource.Replica single = new StatusSource.Replica() {
      @Override public String role() { return "single"; }
      @Override public String identity() { return null; }
      @Override public Map<String, String> leaders() { return Map.of(); }
      @Override public boolean leads(String cluster) { return true; }
      @Override public boolean dryRun() { return false; }
    };
    StatusSettings settings = new StatusSettings(true, false, new StatusSettings.Events(false, 1, 1,
        java.time.Duration.ofMinutes(5), 1, 1, 3));
    Status status = new Status(settings, new StatusSource(cache, progress, dispatcher, specs, single), metrics.registry());
    for (int i = 0; i < pods; i++) {
      String ip = "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255);
      PodState p = new PodState("prod", "ns-" + (i % 20), "pod-" + i, "uid-" + i, "svc-" + (i / 50), ip, "192.168.0." + (i % 200),
          8080, "node-" + (i % 300), PodState.Phase.RUNNING, true, false, 1, Map.of(), Map.of(), Map.of(), "1",
          1_700_000_000_000L, 1_700_000_001_000L, null);
      cache.put(p);
      for (Progress r : reports) {
        int roll = Math.floorMod((i * 31 + r.hashCode()) * 17, 100);
        if (roll < 95) {
          r.online(p);
        } else if (roll < 98) {
          r.failing(p, "SinkException: online POST http://gateway:8080/online/svc failed: status 503");
        }
      }
    }
    HealthServer http = new HealthServer("127.0.0.1", 0, metrics, () -> new HealthServer.Readiness(true, "{}"));
    status.routes(http);
    http.start();
    String base = "http://127.0.0.1:" + http.port();
    HttpClient client = HttpClient.newHttpClient();
    String deep = token(client, base + "/v1/pods?limit=1000", pods / 2000);
    String[] queries = {
        "/v1/pods?service=svc-123",
        "/v1/pods?ip=10.0.48.57",
        "/v1/pods?ip=10.99.99.99",
        "/v1/pods?name=pod-4242",
        "/v1/pods?limit=100",
        "/v1/pods?limit=100&continue=" + deep,
        "/v1/pods?namespace=ns-7&limit=100",
        "/v1/pods?state=failing&limit=100",
        "/v1/pods?q=pod-4242",
        "/v1/services?limit=100",
        "/v1/sinks",
        "/?q=svc-123",
        "/",
    };
    System.out.printf("%n%,d pods, 3 sinks, %,d services%n", pods, pods / 50);
    System.out.printf("%-42s %8s %8s %8s %10s%n", "query", "p50 ms", "p99 ms", "max ms", "bytes");
    for (String q : queries) {
      long[] nanos = new long[ROUNDS];
      int bytes = 0;
      for (int warm = 0; warm < ROUNDS / 2; warm++) {
        get(client, base + q);
      }
      for (int i = 0; i < ROUNDS; i++) {
        long t0 = System.nanoTime();
        bytes = get(client, base + q).length();
        nanos[i] = System.nanoTime() - t0;
      }
      Arrays.sort(nanos);
      String shown = q.contains("continue=") ? "/v1/pods?limit=100&continue=<mid-list>" : q;
      System.out.printf("%-42s %8.2f %8.2f %8.2f %,10d%n", shown, nanos[ROUNDS / 2] / 1e6, nanos[ROUNDS * 99 / 100] / 1e6,
          nanos[ROUNDS - 1] / 1e6, bytes);
    }
    http.close();
    status.close();
    dispatcher.shutdown(java.time.Duration.ZERO);
  }

  /** The continue token after {@code pages} pages of {@code url}. */
  private static String token(HttpClient client, String url, int pages) throws Exception {
    String token = null;
    for (int i = 0; i < Math.max(1, pages); i++) {
      String body = get(client, url + (token == null ? "" : "&continue=" + token));
      int at = body.indexOf("\"continue\":\"");
      token = body.substring(at + 12, body.indexOf('"', at + 12));
    }
    return token;
  }

  private static String get(HttpClient client, String url) throws Exception {
    HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IllegalStateException(url + " -> " + r.statusCode() + " " + r.body());
    }
    return r.body();
  }
}
