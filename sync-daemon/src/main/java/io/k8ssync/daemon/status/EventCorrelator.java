package io.k8ssync.daemon.status;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Decides what one more occurrence of an Event becomes, as client-go's {@code EventCorrelator} does
 * ({@code tools/record/events_cache.go}):
 * <ol>
 *   <li>aggregate: once {@value #MAX_SIMILAR} occurrences of one pod, sink, type and reason with
 *       different messages arrive within {@link #AGGREGATE_WINDOW_MILLIS}, they become one Event
 *       whose message says "(combined from similar events)";</li>
 *   <li>deduplicate: an occurrence of an Event already written patches it (count, last time,
 *       message) instead of creating another;</li>
 *   <li>filter spam: each pod may write {@code perPodBurst} times, then once per refill period;
 *       all pods together {@code ratePerSecond} up to {@code burst}. A filtered occurrence is still
 *       counted, so the next write carries the true count. Unlike client-go, a pod's Warnings and
 *       its Normal Events have a budget each: a storm of failures cannot hide the "Online" that
 *       ends it.</li>
 * </ol>
 * The caches are LRU-bounded ({@value #CACHE_SIZE} entries each). Not thread-safe: the one
 * writer thread of {@link PodEvents} owns it.
 */
final class EventCorrelator {

  static final int MAX_SIMILAR = 10;
  static final long AGGREGATE_WINDOW_MILLIS = 10 * 60_000;
  static final int CACHE_SIZE = 4096;
  static final String COMBINED = "(combined from similar events): ";

  /** One thing worth an Event on a pod. {@code sink} is null for the daemon's own (a rejected pod). */
  record Occurrence(String cluster, String namespace, String pod, String uid, String type, String reason, String sink,
                    String message) {

    String aggregateKey() {
      return cluster + '\n' + namespace + '\n' + pod + '\n' + uid + '\n' + type + '\n' + reason + '\n' + sink;
    }
  }

  /** What to write: create {@code name}, or patch it; {@code count} occurrences from {@code firstMillis} to {@code lastMillis}. */
  record Write(boolean create, String name, String message, int count, long firstMillis, long lastMillis) {}

  /** What the correlator decided: a write, or the reason it is skipped ({@code rate_limited_pod}, {@code rate_limited}). */
  record Decision(Write write, String skipped) {}

  private static final class Similar {
    final Set<String> messages = new LinkedHashSet<>();
    long lastMillis;
  }

  private static final class Seen {
    final String name;
    final long firstMillis;
    int count;
    long lastMillis;
    String message;
    boolean written;

    Seen(String name, long firstMillis) {
      this.name = name;
      this.firstMillis = firstMillis;
    }
  }

  /** Tokens that refill continuously; {@link #take} answers at once. */
  private static final class Bucket {
    final double perMilli;
    final double burst;
    double tokens;
    long last;

    Bucket(double perMilli, double burst, long now) {
      this.perMilli = perMilli;
      this.burst = burst;
      this.tokens = burst;
      this.last = now;
    }

    boolean take(long now) {
      tokens = Math.min(burst, tokens + Math.max(0, now - last) * perMilli);
      last = now;
      if (tokens >= 1) {
        tokens -= 1;
        return true;
      }
      return false;
    }
  }

  private final Map<String, Similar> similar = lru();
  private final Map<String, Seen> seen = lru();
  private final Map<String, Bucket> perPod = lru();
  private final StatusSettings.Events settings;
  private final Bucket overall;
  private long unique;

  EventCorrelator(StatusSettings.Events settings, long nowMillis) {
    this.settings = settings;
    this.overall = new Bucket(settings.ratePerSecond() / 1000.0, settings.burst(), nowMillis);
  }

  Decision observe(Occurrence o, long now) {
    String aggregate = o.aggregateKey();
    Similar sim = similar.get(aggregate);
    if (sim == null || now - sim.lastMillis > AGGREGATE_WINDOW_MILLIS) {
      sim = new Similar();
      similar.put(aggregate, sim);
    }
    sim.lastMillis = now;
    if (sim.messages.size() < MAX_SIMILAR) {
      sim.messages.add(o.message());
    }
    boolean combined = sim.messages.size() >= MAX_SIMILAR;
    String message = combined ? COMBINED + o.message() : o.message();
    String key = combined ? aggregate : aggregate + '\n' + o.message();

    Seen s = seen.get(key);
    if (s == null) {
      s = new Seen(name(o.pod(), now), now);
      seen.put(key, s);
    }
    s.count++;
    s.lastMillis = now;
    s.message = message;

    String podKey = o.uid() + '\n' + o.type();
    Bucket pod = perPod.get(podKey);
    if (pod == null) {
      pod = new Bucket(1.0 / settings.perPodRefill().toMillis(), settings.perPodBurst(), now);
      perPod.put(podKey, pod);
    }
    if (!pod.take(now)) {
      return new Decision(null, "rate_limited_pod");
    }
    if (!overall.take(now)) {
      return new Decision(null, "rate_limited");
    }
    boolean create = !s.written;
    s.written = true;
    return new Decision(new Write(create, s.name, s.message, s.count, s.firstMillis, s.lastMillis), null);
  }

  /** The Event {@code name} is gone from the API server (expired): the next occurrence creates it again. */
  void forgetWritten(String name) {
    seen.values().forEach(s -> {
      if (s.name.equals(name)) {
        s.written = false;
      }
    });
  }

  /** As client-go names Events: the pod's name and a unique hex suffix, within the 253 characters of a name. */
  private String name(String pod, long now) {
    String suffix = Long.toHexString(now * 1_000_000L + (unique++ % 1_000_000L));
    String base = pod.length() > 253 - suffix.length() - 1 ? pod.substring(0, 253 - suffix.length() - 1) : pod;
    while (base.endsWith("-") || base.endsWith(".")) {
      base = base.substring(0, base.length() - 1);
    }
    return base + '.' + suffix;
  }

  private static <V> Map<String, V> lru() {
    return new LinkedHashMap<>(256, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
        return size() > CACHE_SIZE;
      }
    };
  }
}
