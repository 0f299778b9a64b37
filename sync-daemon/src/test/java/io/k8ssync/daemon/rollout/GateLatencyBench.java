package io.k8ssync.daemon.rollout;

import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.TestKubelet;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.testbed.ConsulAgent;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * What the readiness gate adds (issue 16). About {@code -Dgate.pods} (1,000) gated pods churn on the
 * real API server at {@code -Dgate.rate} pods a second — a pod created, its containers made ready by
 * a kubelet player, the oldest pod deleted — for each sink set in turn: the routing test sink (no I/O,
 * the floor), Consul, Consul and an HTTP gateway. Per pod, from the moment the player's
 * ContainersReady write returned: the last participating sink reporting online (a {@link PodProgress}
 * listener), and the player's watch seeing the gate True; the difference is what the gate itself adds.
 * Each deleted pod's preStop calls the offline wait (drain 1s, propagationDelay 1s) and is timed.
 * It measures, it does not judge: tag "soak", run with {@code scripts/bench.sh gate}; the report also
 * goes to {@code sync-daemon/target/gate-latency-report.txt}.
 */
@Tag("soak")
@ExtendWith(KubeApiServerExtension.class)
class GateLatencyBench {

  private static final int PODS = Integer.getInteger("gate.pods", 1000);
  private static final double RATE = Double.parseDouble(System.getProperty("gate.rate", "10"));
  private static final double FILL_RATE = Double.parseDouble(System.getProperty("gate.fillRate", "50"));
  private static final int WARMUP_S = Integer.getInteger("gate.warmup", 15);
  private static final int MEASURE_S = Integer.getInteger("gate.seconds", 60);
  private static final List<String> SETS = List.of(System.getProperty("gate.sets", "routing,consul,consul+gw").split(","));
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  /** What the bench saw of one pod; times are System.nanoTime(), 0 until they happen. */
  static final class Sample {
    final String name;
    /** The sink set under which the pod was created, if its gate is measured; else null. */
    final String measuredIn;
    /** The sink set under which the pod was deleted, if its preStop is measured; else null. */
    volatile String deletedIn;
    final AtomicBoolean starting = new AtomicBoolean();
    final AtomicBoolean stopping = new AtomicBoolean();
    /** Per sink: when it first reported the pod online. */
    final Map<String, Long> online = new ConcurrentHashMap<>();
    volatile long containersReady;
    volatile long gate;
    volatile long preStopStart;
    volatile long preStopEnd;
    volatile int preStopStatus;

    Sample(String name, String measuredIn) {
      this.name = name;
      this.measuredIn = measuredIn;
    }
  }

  private final Map<String, Sample> samples = new ConcurrentHashMap<>();
  private final ConcurrentLinkedDeque<String> alive = new ConcurrentLinkedDeque<>();
  private final AtomicInteger seq = new AtomicInteger();
  private final AtomicInteger apiErrors = new AtomicInteger();
  private volatile int daemonPort;
  private String ns;

  @Test
  @Timeout(value = 30, unit = TimeUnit.MINUTES)
  void measureGateLatency(KubeApi api) throws Exception {
    StringBuilder report = new StringBuilder(String.format("gate latency: %d gated pods churning at %.1f pods/s (each: create,"
        + " ContainersReady, gate, Ready, delete, preStop offline wait, kill); warm-up %d s, measured %d s per sink set;"
        + " %d cores%n", PODS, RATE, WARMUP_S, MEASURE_S, Runtime.getRuntime().availableProcessors()));
    try (KubernetesClient churn = api.client(); KubernetesClient kube = api.client(); ConsulAgent consul = ConsulAgent.started();
         Gateway gw = new Gateway()) {
      ns = ReadinessGateTest.namespace(churn, "gatebench");
      try (Kubelet kubelet = new Kubelet(kube)) {
        for (String set : SETS) {
          List<String> sinks = sinkNames(set);
          Daemon d = ReadinessGateTest.daemon(api, ns, sinkConfig(set, consul, gw), "readinessGate: {enabled: true}");
          try {
            daemonPort = d.httpPort();
            d.progress().addListener((key, sink) -> recordOnline(d, key, sink, sinks));
            if (alive.isEmpty()) {
              ticks(churn, FILL_RATE, PODS, null, null).get(10, TimeUnit.MINUTES);
            }
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(200)).until(() -> settled(d, sinks));
            double[] patches = {-1};
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofSeconds(1)).until(() -> {
              double now = Daemons.counter(d, "k8s_sync_readiness_gate_patches", Map.of());
              boolean quiet = now == patches[0];
              patches[0] = now;
              return quiet;
            });
            report.append(phase(set, sinks, churn, d));
          } finally {
            d.close();
          }
        }
      }
    }
    System.out.print(report);
    Files.writeString(Path.of("target/gate-latency-report.txt"), report.toString());
  }

  private static List<String> sinkNames(String set) {
    return switch (set) {
      case "routing" -> List.of("floor");
      case "consul" -> List.of("consul");
      case "consul+gw" -> List.of("consul", "gw");
      default -> throw new IllegalArgumentException("gate.sets: expected routing, consul or consul+gw, not " + set);
    };
  }

  private static String sinkConfig(String set, ConsulAgent consul, Gateway gw) {
    String floor = "{name: floor, type: routing, propagationDelay: 1s, config: {drain: 1s}}";
    String c = "{name: consul, type: consul, propagationDelay: 1s, config: {url: '" + consul.url() + "', timeout: 2s, drainDelay: 1s}}";
    String g = "{name: gw, type: http, config: {timeout: 2s, online: {url: 'http://127.0.0.1:" + gw.port() + "/online/{ip}:{port}'},"
        + " offline: {url: 'http://127.0.0.1:" + gw.port() + "/offline/{ip}:{port}'}}}";
    return switch (set) {
      case "routing" -> floor;
      case "consul" -> c;
      default -> c + ", " + g;
    };
  }

  /** A PodProgress listener: runs on the reporting sink's thread, so it only records. */
  private void recordOnline(Daemon d, String key, String sink, List<String> sinks) {
    long now = System.nanoTime();
    if (!sinks.contains(sink)) {
      return;
    }
    PodProgress.Entry e = d.progress().get(sink, key);
    Sample s = samples.get(key.substring(key.lastIndexOf('/') + 1));
    if (s != null && e != null && e.state() == PodProgress.State.ONLINE) {
      s.online.putIfAbsent(sink, now);
    }
  }

  /** Every live pod online in every sink of the set, with its gate True, and no gate pending. */
  private boolean settled(Daemon d, List<String> sinks) {
    for (String name : alive) {
      Sample s = samples.get(name);
      if (s.gate == 0) {
        return false;
      }
      for (String sink : sinks) {
        PodProgress.Entry e = d.progress().get(sink, PodState.key("real", ns, name));
        if (e == null || e.state() != PodProgress.State.ONLINE) {
          return false;
        }
      }
    }
    return Daemons.gauge(d, "k8s_sync_readiness_gate_pending_pods") == 0;
  }

  private String phase(String set, List<String> sinks, KubernetesClient churn, Daemon d) throws Exception {
    Map<String, Double> before = patchCounts(d);
    int warm = (int) Math.round(WARMUP_S * RATE);
    int total = warm + (int) Math.round(MEASURE_S * RATE);
    long[] measureStart = new long[1];
    // The machine's CPU (all processes: API server, etcd, Consul, this JVM) each second of the phase: what limits it.
    var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    List<Double> cpu = new java.util.concurrent.CopyOnWriteArrayList<>();
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "bench-cpu"));
    sampler.scheduleAtFixedRate(() -> cpu.add(os.getCpuLoad() * 100), 1, 1, TimeUnit.SECONDS);
    Ticks t = ticks(churn, RATE, total, set, measureStart);
    t.get(10, TimeUnit.MINUTES);
    sampler.shutdownNow();
    double achieved = (total - warm) / ((System.nanoTime() - measureStart[0]) / 1e9);
    List<Sample> created = samples.values().stream().filter(s -> set.equals(s.measuredIn)).toList();
    List<Sample> deleted = samples.values().stream().filter(s -> set.equals(s.deletedIn)).toList();
    try {
      await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
          .until(() -> created.stream().allMatch(s -> s.gate != 0) && deleted.stream().allMatch(s -> s.preStopEnd != 0));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      // counted below as not seen
    }
    Map<String, Double> after = patchCounts(d);
    List<Double> sinksMs = new ArrayList<>();
    List<Double> gateMs = new ArrayList<>();
    List<Double> ownMs = new ArrayList<>();
    int unseen = 0;
    for (Sample s : created) {
      if (s.gate == 0 || s.containersReady == 0 || !s.online.keySet().containsAll(sinks)) {
        unseen++;
        continue;
      }
      long last = sinks.stream().mapToLong(s.online::get).max().orElseThrow();
      sinksMs.add((last - s.containersReady) / 1e6);
      gateMs.add((s.gate - s.containersReady) / 1e6);
      ownMs.add((s.gate - last) / 1e6);
    }
    List<Double> preStopMs = new ArrayList<>();
    int preStopOther = 0;
    for (Sample s : deleted) {
      if (s.preStopEnd != 0 && s.preStopStatus == 200) {
        preStopMs.add((s.preStopEnd - s.preStopStart) / 1e6);
      } else {
        preStopOther++;
      }
    }
    StringBuilder b = new StringBuilder();
    b.append(String.format("%n[%s] sinks %s; churn asked %.1f pods/s, achieved %.1f/s, most ticks in flight %d, API errors %d%n",
        set, sinks, RATE, achieved, t.maxInFlight.get(), apiErrors.getAndSet(0)));
    b.append(String.format("  machine CPU busy (both cores, every process) during the churn: mean %.0f%%, p90 %.0f%%%n",
        cpu.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN), pct(cpu, 0.9)));
    b.append(String.format("  gated pods measured %d (gate or sink not seen: %d), deletions measured %d; gate patches (status/result)"
        + " during the phase: %s%n", created.size() - unseen, unseen, deleted.size(), diff(before, after)));
    b.append(String.format("  %-42s %8s %8s %8s %8s%n", "ms", "p50", "p90", "p99", "max"));
    b.append(line("ContainersReady -> last sink online", sinksMs));
    b.append(line("ContainersReady -> gate True seen", gateMs));
    b.append(line("gate's own: last sink online -> gate True", ownMs));
    b.append(line("preStop offline wait (answered 200)", preStopMs));
    b.append(String.format("  preStop waits not answered 200: %d%n", preStopOther));
    double p99own = pct(ownMs, 0.99);
    b.append(String.format("  target, gate adds <= 50 ms p99 beyond the slowest sink: %s (p99 %.1f ms)%n", p99own <= 50 ? "met" : "MISSED",
        p99own));
    System.out.print(b);
    return b.toString();
  }

  private static String line(String what, List<Double> ms) {
    return String.format("  %-42s %8.1f %8.1f %8.1f %8.1f   (n=%d)%n", what, pct(ms, 0.5), pct(ms, 0.9), pct(ms, 0.99), pct(ms, 1.0),
        ms.size());
  }

  /** Nearest-rank percentile; NaN for no values. */
  static double pct(List<Double> values, double p) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return v[Math.max(0, (int) Math.ceil(p * v.length) - 1)];
  }

  private static Map<String, Double> patchCounts(Daemon d) {
    Map<String, Double> out = new TreeMap<>();
    for (String status : List.of("True", "False")) {
      for (String result : List.of("ok", "conflict", "gone", "error")) {
        out.put(status + "/" + result, Daemons.counter(d, "k8s_sync_readiness_gate_patches", Map.of("status", status, "result", result)));
      }
    }
    return out;
  }

  private static String diff(Map<String, Double> before, Map<String, Double> after) {
    StringBuilder b = new StringBuilder();
    after.forEach((k, v) -> {
      long n = Math.round(v - before.getOrDefault(k, 0.0));
      if (n != 0) {
        b.append(b.length() == 0 ? "" : ", ").append(k).append(' ').append(n);
      }
    });
    return b.toString();
  }

  /** The churn of one phase; completes once every tick's API calls returned. */
  static final class Ticks extends CompletableFuture<Void> {
    final AtomicInteger started = new AtomicInteger();
    final AtomicInteger finished = new AtomicInteger();
    final AtomicInteger maxInFlight = new AtomicInteger();
  }

  /**
   * {@code n} ticks at {@code rate} per second, paced by a fixed-rate clock; each creates a pod and,
   * above {@link #PODS} live pods, deletes the oldest. Calls run on a pool, so a slow API server shows
   * as ticks in flight rather than slowing the clock. Pods of ticks after the warm-up are measured as
   * {@code set} ({@code set} null: a fill, nothing measured).
   */
  private Ticks ticks(KubernetesClient client, double rate, int n, String set, long[] measureStart) {
    Ticks t = new Ticks();
    int warm = set == null ? n : (int) Math.round(WARMUP_S * RATE);
    ScheduledExecutorService clock = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "bench-churn-clock"));
    ExecutorService ops = Executors.newFixedThreadPool(8, r -> new Thread(r, "bench-churn"));
    clock.scheduleAtFixedRate(() -> {
      int i = t.started.getAndIncrement();
      if (i >= n) {
        clock.shutdown();
        return;
      }
      if (i == warm && measureStart != null) {
        measureStart[0] = System.nanoTime();
      }
      t.maxInFlight.accumulateAndGet(i - t.finished.get(), Math::max);
      String measuredIn = i >= warm ? set : null;
      ops.execute(() -> {
        try {
          replaceOne(client, measuredIn);
        } catch (KubernetesClientException e) {
          apiErrors.incrementAndGet();
        } finally {
          if (t.finished.incrementAndGet() == n) {
            ops.shutdown();
            t.complete(null);
          }
        }
      });
    }, 0, Math.round(1e9 / rate), TimeUnit.NANOSECONDS);
    return t;
  }

  private void replaceOne(KubernetesClient client, String measuredIn) {
    String name = "p-" + seq.getAndIncrement();
    samples.put(name, new Sample(name, measuredIn));
    client.pods().inNamespace(ns).resource(ReadinessGateTest.gated(ns, name)).create();
    alive.add(name);
    if (alive.size() > PODS) {
      String old = alive.poll();
      samples.get(old).deletedIn = measuredIn;
      client.pods().inNamespace(ns).withName(old).withGracePeriod(30).delete();
    }
  }

  private static String ip(String name) {
    int n = Integer.parseInt(name.substring(2));
    return "10.80." + (n / 250) + "." + (n % 250 + 2);
  }

  /**
   * Plays the kubelet for the bench's pods, as the real one patches status: a new pod starts with its
   * containers ready (one status patch: Running, an IP, ContainersReady True, Ready False); once its
   * gate is True, Ready True; a deleted pod runs its preStop (the offline wait), then is killed (grace
   * 0). The watch handler only records and hands work to a pool.
   */
  private final class Kubelet implements AutoCloseable {
    private final KubernetesClient client;
    private final SharedIndexInformer<Pod> informer;
    private final ExecutorService work = Executors.newFixedThreadPool(8, r -> new Thread(r, "bench-kubelet"));

    Kubelet(KubernetesClient client) {
      this.client = client;
      this.informer = client.pods().inNamespace(ns).inform(new ResourceEventHandler<>() {
        @Override public void onAdd(Pod p) {
          seen(p);
        }

        @Override public void onUpdate(Pod old, Pod p) {
          seen(p);
        }

        @Override public void onDelete(Pod p, boolean unknown) {
        }
      });
    }

    private void seen(Pod p) {
      long now = System.nanoTime();
      Sample s = samples.get(p.getMetadata().getName());
      if (s == null) {
        return;
      }
      if (p.getMetadata().getDeletionTimestamp() != null) {
        if (s.stopping.compareAndSet(false, true)) {
          s.preStopStart = now;
          work.execute(() -> preStop(s));
        }
        return;
      }
      if ((p.getStatus() == null || p.getStatus().getPodIP() == null) && s.starting.compareAndSet(false, true)) {
        work.execute(() -> start(s));
      }
      if (s.gate == 0 && "True".equals(TestKubelet.status(p, ReadinessGateTest.GATE))) {
        s.gate = now;
        work.execute(() -> ready(s));
      }
    }

    private void patchStatus(String name, String json) {
      try {
        // By resource, not withName: fabric8 would GET the pod before each patch, a round trip the kubelet does not make.
        Pod named = new PodBuilder().withNewMetadata().withNamespace(ns).withName(name).endMetadata().build();
        client.pods().inNamespace(ns).resource(named).subresource("status").patch(PatchContext.of(PatchType.STRATEGIC_MERGE), json);
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          apiErrors.incrementAndGet();
        }
      }
    }

    private void start(Sample s) {
      String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
      String ip = ip(s.name);
      patchStatus(s.name, "{\"status\":{\"phase\":\"Running\",\"podIP\":\"" + ip + "\",\"podIPs\":[{\"ip\":\"" + ip
          + "\"}],\"hostIP\":\"192.168.0.1\",\"conditions\":[{\"type\":\"ContainersReady\",\"status\":\"True\","
          + "\"lastTransitionTime\":\"" + now + "\"},{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"ReadinessGatesNotReady\","
          + "\"lastTransitionTime\":\"" + now + "\"}]}}");
      s.containersReady = System.nanoTime();
    }

    private void ready(Sample s) {
      String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
      patchStatus(s.name, "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":null,"
          + "\"lastTransitionTime\":\"" + now + "\"}]}}");
    }

    private void preStop(Sample s) {
      HttpRequest wait = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + daemonPort + "/v1/offline-wait?namespace=" + ns
          + "&pod=" + s.name + "&timeout=30s")).timeout(Duration.ofSeconds(40)).build();
      HTTP.sendAsync(wait, HttpResponse.BodyHandlers.discarding()).whenComplete((r, error) -> {
        s.preStopStatus = error != null ? -1 : r.statusCode();
        s.preStopEnd = System.nanoTime();
        work.execute(() -> {
          try {
            client.pods().inNamespace(ns).withName(s.name).withGracePeriod(0).delete();
          } catch (KubernetesClientException e) {
            apiErrors.incrementAndGet();
          }
        });
      });
    }

    @Override
    public void close() {
      informer.close();
      work.shutdownNow();
    }
  }

  /** An HTTP gateway: answers every online and offline call 200, on a few threads. */
  static final class Gateway implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService threads = Executors.newFixedThreadPool(4, r -> new Thread(r, "bench-gateway"));

    Gateway() throws java.io.IOException {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 200);
      server.setExecutor(threads);
      server.createContext("/", ex -> {
        ex.getRequestBody().readAllBytes();
        ex.sendResponseHeaders(200, -1);
        ex.close();
      });
      server.start();
    }

    int port() {
      return server.getAddress().getPort();
    }

    @Override
    public void close() {
      server.stop(0);
      threads.shutdownNow();
    }
  }
}
