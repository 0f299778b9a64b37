package io.k8ssync.sink.http;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.SinkContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Whether an offline would hit an entry that belongs to another pod, or to a newer incarnation of
 * the same pod, now: the offline request names an address or a pod name, not an incarnation, and
 * IPs are reused. Answers from the cache; any thread.
 */
final class EntryCollisions {

  private final SinkContext context;
  private final Request offline;

  EntryCollisions(SinkContext context, Request offline) {
    this.context = context;
    this.offline = offline;
  }

  /**
   * True when the offline of {@code old} would remove {@code p}'s registration: the same offline
   * request (method, URL and body), e.g. a URL naming the address, or the pod's name.
   */
  boolean sameEntry(PodState old, PodState p) {
    if (p == null) {
      return false;
    }
    try {
      Request.Rendered a = offline.render(old);
      Request.Rendered b = offline.render(p);
      return a.method().equals(b.method()) && a.uri().equals(b.uri()) && Objects.equals(a.body(), b.body());
    } catch (IllegalArgumentException e) {
      return false; // not renderable: not provably the same entry; the offline goes out and reports its own error
    }
  }

  /**
   * Another pod of the cache, desired online now at {@code old}'s address, whose registration the
   * offline of {@code old} would remove (same offline URL); null when there is none. An IP reused
   * quickly lets the old pod's offline arrive after the new pod's online.
   */
  PodState addressHolder(PodState old, String key) {
    if (old.address() == null) {
      return null;
    }
    for (PodState p : context.pods().podsWithIp(old.ip())) {
      if (!p.key().equals(key) && context.desiredOnline(p) && sameEntry(old, p)) {
        return p;
      }
    }
    return null;
  }

  /**
   * Another instance desired online whose entry the offline of {@code old} would remove: a pod at
   * its IP, or the pod's newer incarnation elsewhere; null when there is none.
   */
  PodState otherInstanceAtEntry(PodState old) {
    List<PodState> candidates = new ArrayList<>(context.pods().podsWithIp(old.ip()));
    if (old.service() != null) {
      candidates.addAll(context.pods().podsOfService(old.service()));
    }
    for (PodState p : candidates) {
      if (context.desiredOnline(p) && !Registration.sameInstance(p, old) && sameEntry(old, p)) {
        return p;
      }
    }
    return null;
  }

  /** The cache's current state of this very instance when it is desired online; else null. */
  PodState wantedNow(PodState state) {
    return context.pods().podsWithIp(state.ip()).stream()
        .filter(p -> context.desiredOnline(p) && Registration.sameInstance(p, state)).findFirst().orElse(null);
  }

  /** True while the cache still holds this very instance, in any state. */
  boolean inCache(PodState state) {
    return context.pods().podsWithIp(state.ip()).stream().anyMatch(p -> Registration.sameInstance(p, state));
  }
}
