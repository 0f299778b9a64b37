package io.k8ssync.benchmarks;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Churn against the daemon and its lag: client threads flip the Ready condition of random Running
 * pods through the status subresource (a strategic merge patch, as the kubelet writes it), each
 * as fast as the API server answers, or paced to a rate. The lag of one flip is from the moment
 * the patch's response arrived (the API server accepted it; epoch micros on this host's clock)
 * to the {@code ts} the daemon's log sink printed on the line for that change (the same clock, read
 * in the daemon's process); from the moment the request was sent is given too, as an upper bound.
 * A pod is flipped again only after the line of its last flip was seen, so no two flips of one
 * pod can merge in the daemon's queue and each flip has exactly one line. With a bare watch beside
 * the daemon ({@link BareWatchProcess}), each flip waits for its line too, and the watch's lag is
 * measured the same way: how late the API server itself delivered the change, the floor under the
 * daemon's.
 */
final class ChurnLag {

  /** One flip in flight; done when both its response and its line have arrived. */
  private static final class Flip {
    final int pod;
    final boolean online;
    final long sentMicros;
    volatile long responseMicros;
    volatile long lineMicros;
    volatile long watchMicros;
    final AtomicInteger parts;

    Flip(int pod, boolean online, long sentMicros, boolean watched) {
      this.pod = pod;
      this.online = online;
      this.sentMicros = sentMicros;
      this.parts = new AtomicInteger(watched ? 3 : 2);
    }
  }

  /** Figures of one churn phase. */
  record Result(int flips, double seconds, int threads, double targetRate, List<Long> lagFromResponse,
                List<Long> lagFromSend, List<Long> watchLag, int unmatched) {
    double rate() {
      return flips / seconds;
    }

    String line() {
      return String.format("%,d flips in %.1f s = %,.0f/s (%d threads, %s); lag from the patch response: p50 %.1f ms, "
              + "p99 %.1f ms, p99.9 %.1f ms, max %.1f ms; from the request sent: p50 %.1f ms, p99 %.1f ms; lines missing %d",
          flips, seconds, rate(), threads, targetRate > 0 ? String.format("paced to %,.0f/s", targetRate) : "unpaced",
          pct(lagFromResponse, 50), pct(lagFromResponse, 99), pct(lagFromResponse, 99.9), pct(lagFromResponse, 100),
          pct(lagFromSend, 50), pct(lagFromSend, 99), unmatched)
          + (watchLag.isEmpty() ? "" : String.format("; the bare watch's lag from the response: p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms,"
              + " max %.1f ms", pct(watchLag, 50), pct(watchLag, 99), pct(watchLag, 99.9), pct(watchLag, 100)));
    }
  }

  private final Map<String, Flip> pending = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<Integer> idle = new ConcurrentLinkedQueue<>();
  private final boolean[] online;
  private final List<Long> fromResponse = Collections.synchronizedList(new ArrayList<>());
  private final List<Long> fromSend = Collections.synchronizedList(new ArrayList<>());
  private final List<Long> fromWatch = Collections.synchronizedList(new ArrayList<>());
  /** True once a bare watch runs beside the daemon: a flip is done when its watch line came too. */
  volatile boolean watched;
  private final AtomicInteger completed = new AtomicInteger();

  ChurnLag(int pods) {
    online = new boolean[pods];
    List<Integer> running = new ArrayList<>();
    for (int i = 0; i < pods; i++) {
      online[i] = PodPopulator.ready(i);
      if (!PodPopulator.pending(i)) {
        running.add(i);
      }
    }
    Collections.shuffle(running, new java.util.Random(19));
    idle.addAll(running);
  }

  static String key(int pod) {
    return InitialSyncBenchmark.CLUSTER + "/" + PodPopulator.namespace(pod) + "/" + PodPopulator.name(pod);
  }

  /** Called by the daemon's output reader for each log sink line. */
  void onLine(String key, boolean lineOnline, long tsMicros) {
    Flip f = pending.get(key);
    if (f != null && f.online == lineOnline && f.lineMicros == 0) {
      f.lineMicros = tsMicros;
      part(key, f);
    }
  }

  /** Called by the bare watch's output reader for each event. */
  void onWatchLine(String key, boolean ready, long micros) {
    Flip f = pending.get(key);
    if (f != null && f.online == ready && f.watchMicros == 0) {
      f.watchMicros = micros;
      part(key, f);
    }
  }

  private void part(String key, Flip f) {
    if (f.parts.decrementAndGet() == 0) {
      pending.remove(key);
      fromResponse.add(f.lineMicros - f.responseMicros);
      fromSend.add(f.lineMicros - f.sentMicros);
      if (f.watchMicros != 0) {
        fromWatch.add(f.watchMicros - f.responseMicros);
      }
      completed.incrementAndGet();
      online[f.pod] = f.online;
      idle.add(f.pod);
    }
  }

  /** Flips for {@code seconds} with {@code threads} clients, paced to {@code rate} per second if above 0. */
  Result run(KubernetesClient client, int threads, double seconds, double rate) throws Exception {
    fromResponse.clear();
    fromSend.clear();
    fromWatch.clear();
    completed.set(0);
    String base = client.getMasterUrl().toString().replaceAll("/$", "");
    HttpClient http = client.getHttpClient();
    AtomicInteger sent = new AtomicInteger();
    AtomicLong nextSlot = new AtomicLong(System.nanoTime());
    long intervalNanos = rate > 0 ? (long) (1e9 / rate) : 0;
    long start = System.nanoTime();
    long end = start + (long) (seconds * 1e9);
    List<Thread> workers = new ArrayList<>();
    List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
    for (int t = 0; t < threads; t++) {
      Thread w = new Thread(() -> {
        try {
          while (System.nanoTime() < end) {
            if (intervalNanos > 0) {
              long slot = nextSlot.getAndAdd(intervalNanos);
              long wait = slot - System.nanoTime();
              if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
              }
            }
            Integer pod = idle.poll();
            if (pod == null) {
              Thread.sleep(1);
              continue;
            }
            boolean target = !online[pod];
            String body = "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"" + (target ? "True" : "False")
                + "\",\"lastTransitionTime\":\"" + Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + "\"}]}}";
            String key = key(pod);
            Flip f = new Flip(pod, target, InitialSyncBenchmark.micros(Instant.now()), watched);
            pending.put(key, f);
            HttpResponse<String> r = http.sendAsync(http.newHttpRequestBuilder()
                .uri(base + "/api/v1/namespaces/" + PodPopulator.namespace(pod) + "/pods/" + PodPopulator.name(pod) + "/status")
                .method("PATCH", "application/strategic-merge-patch+json", body).build(), String.class).get();
            f.responseMicros = InitialSyncBenchmark.micros(Instant.now());
            if (r.code() != 200) {
              throw new IllegalStateException("status patch -> " + r.code() + ": " + r.body());
            }
            sent.incrementAndGet();
            part(key, f);
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      }, "churn-" + t);
      w.start();
      workers.add(w);
    }
    for (Thread w : workers) {
      w.join();
    }
    double elapsed = (System.nanoTime() - start) / 1e9;
    if (!failures.isEmpty()) {
      throw new IllegalStateException("churn failed", failures.get(0));
    }
    long waitUntil = System.nanoTime() + 60_000_000_000L;
    while (completed.get() < sent.get() && System.nanoTime() < waitUntil) {
      Thread.sleep(10);
    }
    int unmatched = sent.get() - completed.get();
    // A flip whose line never came stays out of the pool; a later phase must not wait for it.
    pending.clear();
    List<Long> r1;
    List<Long> r2;
    synchronized (fromResponse) {
      r1 = new ArrayList<>(fromResponse);
    }
    synchronized (fromSend) {
      r2 = new ArrayList<>(fromSend);
    }
    List<Long> r3;
    synchronized (fromWatch) {
      r3 = new ArrayList<>(fromWatch);
    }
    Collections.sort(r1);
    Collections.sort(r2);
    Collections.sort(r3);
    return new Result(sent.get(), elapsed, threads, rate, r1, r2, r3, unmatched);
  }

  /** The p-th percentile of sorted micros, in milliseconds. */
  static double pct(List<Long> sorted, double p) {
    if (sorted.isEmpty()) {
      return Double.NaN;
    }
    int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i))) / 1000.0;
  }
}
