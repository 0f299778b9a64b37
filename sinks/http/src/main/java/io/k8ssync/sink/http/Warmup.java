package io.k8ssync.sink.http;

import io.k8ssync.sink.PodState;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * How long a ready pod still waits before its online: the sink's {@code warmup}, or longer when the
 * pod's annotation asks, counted from when this daemon saw it ready or from its Ready condition,
 * whichever ends first. One clock per pod uid; any thread.
 */
final class Warmup {

  private final Duration warmup;
  private final LongSupplier nanoTime;
  private final Clock clock;
  private final Map<String, Long> onlineSince = new ConcurrentHashMap<>();

  Warmup(Duration warmup, LongSupplier nanoTime, Clock clock) {
    this.warmup = warmup;
    this.nanoTime = nanoTime;
    this.clock = clock;
  }

  /** Nanoseconds of warm-up left for {@code pod}; starts its clock on the first question. */
  long remainingNanos(PodState pod) {
    long wait = warmup.toNanos();
    String podWarmup = pod.options().get("warmup");
    if (podWarmup != null) {
      wait = Math.max(wait, TimeUnit.SECONDS.toNanos(Long.parseLong(podWarmup)));
    }
    if (wait == 0) {
      return 0;
    }
    long now = nanoTime.getAsLong();
    long since = onlineSince.computeIfAbsent(pod.uid(), u -> now);
    long remaining = since + wait - now;
    if (pod.readySinceMillis() > 0) {
      // Counted from the pod's Ready condition (the kubelet's clock) as well, whichever ends first:
      // a pod ready for long is not held again by a restart or a takeover of this daemon.
      // The condition time is whole seconds, truncated: the pod may have become ready up to 1 s later.
      long readyFor = TimeUnit.MILLISECONDS.toNanos(Math.max(0, clock.millis() - pod.readySinceMillis() - 1000));
      remaining = Math.min(remaining, wait - readyFor);
    }
    return remaining;
  }

  /** The pod is no longer ready (or gone): its next ready starts a new warm-up. */
  void reset(String uid) {
    onlineSince.remove(uid);
  }

  /** Drops the clocks of pods not in {@code uids} that started more than {@code age} ago; how many. */
  int forgetPodsGone(Set<String> uids, Duration age) {
    int clocks = 0;
    long cutoff = nanoTime.getAsLong() - age.toNanos();
    for (Map.Entry<String, Long> e : new ArrayList<>(onlineSince.entrySet())) {
      // Started before the last pass: not a pod that arrived after the snapshot.
      if (!uids.contains(e.getKey()) && e.getValue() - cutoff < 0 && onlineSince.remove(e.getKey(), e.getValue())) {
        clocks++;
      }
    }
    return clocks;
  }
}
