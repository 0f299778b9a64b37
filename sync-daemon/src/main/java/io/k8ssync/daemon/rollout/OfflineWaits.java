package io.k8ssync.daemon.rollout;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.metrics.HealthServer;
import io.k8ssync.sink.PodState;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /v1/offline-wait?namespace=NS&pod=NAME[&cluster=C][&timeout=30s]}: what a pod's preStop
 * hook calls. It answers 200 once every sink the rollout waits for has the pod offline (drain and
 * the sinks' propagation delays included), at once for a pod no such sink manages; 504 when the
 * timeout passes first (the body names what is still owed); 503 when this replica cannot answer
 * (no leader known, leadership moved or the daemon stops: the hook retries, then falls back to a
 * sleep); 404 for a pod the daemon does not know; 400 for a bad request; 429 when too many wait.
 *
 * <p>A standby forwards the request to the leader of the pod's cluster (whose URL its Lease
 * identity carries), so the hook may reach any replica behind the Service. A wait holds no thread:
 * the exchange is answered later from the rollout thread.
 */
public final class OfflineWaits implements HttpHandler, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(OfflineWaits.class);
  static final String FORWARDED = "X-K8s-Sync-Forwarded";
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  private static final String DNS_LABEL = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";
  private static final String DNS_SUBDOMAIN = "[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final class Waiter {
    final String key;
    final String uid;
    final HttpExchange exchange;
    final long start = System.nanoTime();
    final AtomicBoolean answered = new AtomicBoolean();
    volatile ScheduledFuture<?> timeout;

    Waiter(String key, String uid, HttpExchange exchange) {
      this.key = key;
      this.uid = uid;
      this.exchange = exchange;
    }

    /** Answers once; later calls do nothing. */
    void answer(int status, String outcome, ObjectNode body) {
      if (!answered.compareAndSet(false, true)) {
        return;
      }
      List<Waiter> list = waiting.get(key);
      if (list != null) {
        list.remove(this);
        if (list.isEmpty()) {
          waiting.remove(key, list);
        }
      }
      open.decrementAndGet();
      ScheduledFuture<?> t = timeout;
      if (t != null) {
        t.cancel(false);
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      metrics.offlineWaits.labelValues(outcome).inc();
      if (status == 200 || status == 504) {
        metrics.offlineWaitSeconds.labelValues(status == 200 ? "offline" : "timeout").observe(seconds);
      }
      body.put("waitedMs", Math.round(seconds * 1000));
      LOG.info("offline wait answered: pod={} uid={} status={} outcome={} waitedMs={}{}", key, uid, status, outcome,
          Math.round(seconds * 1000), body.has("owed") ? " owed=" + body.get("owed") : "");
      reply(exchange, status, body);
    }
  }

  private final DaemonConfig.RolloutSpec spec;
  private final PodStateCache cache;
  private final Participants participants;
  private final RolloutMetrics metrics;
  private final ScheduledExecutorService thread;
  private final Consumer<String> touch;
  private final Map<String, List<Waiter>> waiting = new ConcurrentHashMap<>();
  private final AtomicInteger open = new AtomicInteger();
  private volatile Set<String> clusters = Set.of();
  private volatile Predicate<String> leads = c -> true;
  private volatile Function<String, String> leaderUrl = c -> null;
  private volatile boolean closed;

  OfflineWaits(DaemonConfig.RolloutSpec spec, PodStateCache cache, Participants participants, RolloutMetrics metrics,
               ScheduledExecutorService thread, Consumer<String> touch) {
    this.spec = spec;
    this.cache = cache;
    this.participants = participants;
    this.metrics = metrics;
    this.thread = thread;
    this.touch = touch;
  }

  /**
   * The clusters this daemon watches, whether this replica leads each, and the URL of each one's
   * leader (null when unknown or it publishes none).
   */
  public void routing(Set<String> clusters, Predicate<String> leads, Function<String, String> leaderUrl) {
    this.clusters = Set.copyOf(clusters);
    this.leads = leads;
    this.leaderUrl = leaderUrl;
  }

  int open() {
    return open.get();
  }

  @Override
  public void handle(HttpExchange ex) throws IOException {
    try {
      accept(ex);
    } catch (RuntimeException e) {
      LOG.warn("offline wait failed: {}", e.toString());
      metrics.offlineWaits.labelValues("error").inc();
      reply(ex, 500, error("internal error: " + e.getClass().getSimpleName()));
    }
  }

  private void accept(HttpExchange ex) {
    if (!"GET".equals(ex.getRequestMethod()) && !"POST".equals(ex.getRequestMethod())) {
      refuse(ex, 405, "bad_request", "use GET (or POST) " + ex.getHttpContext().getPath());
      return;
    }
    Map<String, String> q = query(ex.getRequestURI().getRawQuery());
    String ns = q.get("namespace");
    String name = q.get("pod");
    if (ns == null || !ns.matches(DNS_LABEL)) {
      refuse(ex, 400, "bad_request", "parameter namespace: expected a namespace name");
      return;
    }
    if (name == null || !name.matches(DNS_SUBDOMAIN)) {
      refuse(ex, 400, "bad_request", "parameter pod: expected a pod name");
      return;
    }
    String cluster = q.get("cluster");
    if (cluster == null && clusters.size() == 1) {
      cluster = clusters.iterator().next();
    }
    if (cluster == null || !clusters.contains(cluster)) {
      refuse(ex, 400, "bad_request", "parameter cluster: expected one of " + String.join(", ", new java.util.TreeSet<>(clusters)));
      return;
    }
    Duration timeout;
    try {
      timeout = q.containsKey("timeout") ? duration(q.get("timeout")) : DEFAULT_TIMEOUT;
    } catch (IllegalArgumentException e) {
      refuse(ex, 400, "bad_request", "parameter timeout: expected a duration such as 30s or 2m, at most "
          + spec.maxTimeout().toSeconds() + "s");
      return;
    }
    if (timeout.compareTo(spec.maxTimeout()) > 0 || timeout.isNegative()) {
      refuse(ex, 400, "bad_request", "parameter timeout: expected at most " + spec.maxTimeout().toSeconds() + "s");
      return;
    }
    if (closed) {
      refuse(ex, 503, "shutdown", "k8s-sync is shutting down; retry (another replica answers)");
      return;
    }
    if (!leads.test(cluster)) {
      forward(ex, cluster, timeout);
      return;
    }
    String key = PodState.key(cluster, ns, name);
    PodState pod = cache.get(key);
    if (pod == null) {
      refuse(ex, 404, "unknown_pod", "pod " + ns + "/" + name + " is not in cluster " + cluster
          + " as k8s-sync sees it (not watched, or not created yet)");
      return;
    }
    if (open.incrementAndGet() > spec.maxWaiters()) {
      open.decrementAndGet();
      refuse(ex, 429, "too_many", "more than " + spec.maxWaiters() + " offline waits are open; retry");
      return;
    }
    Waiter w = new Waiter(key, pod.uid(), ex);
    waiting.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).add(w);
    w.timeout = thread.schedule(() -> timedOut(w), timeout.toMillis(), TimeUnit.MILLISECONDS);
    touch.accept(key);
  }

  /** On the rollout thread, whenever {@code key} may have changed: answers its waiters that are done. */
  void decide(String key, PodState pod) {
    List<Waiter> list = waiting.get(key);
    if (list == null || list.isEmpty()) {
      return;
    }
    for (Waiter w : list) {
      if (pod == null || !pod.uid().equals(w.uid)) {
        w.answer(200, "offline", body(key, true).put("reason", "the pod is gone"));
        continue;
      }
      if (participants.unmanaged(pod)) {
        w.answer(200, "unmanaged", body(key, true).put("reason", "no sink the rollout waits for manages this pod"));
        continue;
      }
      long[] due = new long[1];
      List<Participants.Owed> owed = participants.notYetOffline(pod, due);
      if (owed.isEmpty()) {
        w.answer(200, "offline", body(key, true).put("reason", "offline in every sink"));
      } else if (due[0] != 0) {
        long delay = Math.max(1, due[0] - System.nanoTime());
        thread.schedule(() -> touch.accept(key), delay, TimeUnit.NANOSECONDS);
      }
    }
  }

  private void timedOut(Waiter w) {
    PodState pod = cache.get(w.key);
    ObjectNode body = body(w.key, false).put("reason", "timeout");
    if (pod != null) {
      var owed = body.putArray("owed");
      participants.notYetOffline(pod, new long[1]).forEach(o -> owed.add(o.toString()));
    }
    w.answer(504, "timeout", body);
  }

  /** This replica stopped leading {@code cluster}: its waits there cannot finish here; the hook asks again. */
  void leadershipChanged(String cluster, boolean leading) {
    if (leading) {
      return;
    }
    for (List<Waiter> list : waiting.values()) {
      for (Waiter w : list) {
        if (w.key.startsWith(cluster + "/")) {
          w.answer(503, "leadership_moved", body(w.key, false).put("reason", "this replica stopped leading cluster "
              + cluster + "; ask again"));
        }
      }
    }
  }

  /**
   * The client a standby forwards with, built on the first forward: an HTTP client without an SSL context
   * of its own takes the JDK's default one, whose making loads and parses the whole CA store (cacerts),
   * a share of every daemon's start-up (docs/BENCHMARKS.md, "Footprint beside a Go peer") for a path only
   * a standby with an advertised leader ever takes.
   */
  private static final class Forwarder {
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  }

  private void forward(HttpExchange ex, String cluster, Duration timeout) {
    if (ex.getRequestHeaders().getFirst(FORWARDED) != null) {
      refuse(ex, 503, "no_leader", "forwarded to a replica that does not lead cluster " + cluster + " (leadership moving); retry");
      return;
    }
    String url = leaderUrl.apply(cluster);
    if (url == null) {
      refuse(ex, 503, "no_leader", "this replica stands by for cluster " + cluster
          + " and knows no leader URL (set rollout.offlineWait.advertiseUrl, or POD_IP); retry");
      return;
    }
    URI target = URI.create(url + ex.getRequestURI().getRawPath() + "?" + ex.getRequestURI().getRawQuery());
    HttpRequest request = HttpRequest.newBuilder(target).timeout(timeout.plusSeconds(5)).header(FORWARDED, "1").GET().build();
    Forwarder.CLIENT.sendAsync(request, HttpResponse.BodyHandlers.ofString()).whenComplete((response, error) -> {
      if (error != null) {
        refuse(ex, 503, "no_leader", "the leader of cluster " + cluster + " did not answer (" + error.getClass().getSimpleName()
            + "); retry");
        return;
      }
      metrics.offlineWaits.labelValues("forwarded").inc();
      try {
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        byte[] bytes = response.body().getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(response.statusCode(), bytes.length);
        try (var out = ex.getResponseBody()) {
          out.write(bytes);
        }
      } catch (IOException e) {
        LOG.debug("offline wait: the caller left before the forwarded answer", e);
      }
    });
  }

  private void refuse(HttpExchange ex, int status, String outcome, String message) {
    metrics.offlineWaits.labelValues(outcome).inc();
    if (status >= 500 || status == 429) {
      LOG.info("offline wait not answered: status={} outcome={} message={}", status, outcome, message);
    }
    reply(ex, status, error(message));
  }

  private static ObjectNode error(String message) {
    ObjectNode n = JSON.createObjectNode();
    n.put("error", message);
    return n;
  }

  private static ObjectNode body(String key, boolean offline) {
    ObjectNode n = JSON.createObjectNode();
    n.put("pod", key);
    n.put("offline", offline);
    return n;
  }

  private static void reply(HttpExchange ex, int status, ObjectNode body) {
    try {
      HealthServer.respond(ex, status, body.toString() + "\n", "application/json");
    } catch (IOException e) {
      LOG.debug("offline wait: the caller left before the answer", e);
    } finally {
      ex.close();
    }
  }

  static Map<String, String> query(String raw) {
    Map<String, String> out = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return out;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      out.putIfAbsent(k, v);
    }
    return out;
  }

  /** {@code 30s}, {@code 2m}, {@code 1500ms}, or plain seconds. */
  static Duration duration(String s) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]{1,7})(ms|s|m)?").matcher(s);
    if (!m.matches()) {
      throw new IllegalArgumentException(s);
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    return switch (unit) {
      case "ms" -> Duration.ofMillis(n);
      case "m" -> Duration.ofMinutes(n);
      default -> Duration.ofSeconds(n);
    };
  }

  @Override
  public void close() {
    closed = true;
    List<Waiter> all = new ArrayList<>();
    waiting.values().forEach(all::addAll);
    for (Waiter w : all) {
      w.answer(503, "shutdown", body(w.key, false).put("reason", "k8s-sync is shutting down; ask again"));
    }
  }
}
