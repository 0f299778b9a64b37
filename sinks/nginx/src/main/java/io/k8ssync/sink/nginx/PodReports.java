package io.k8ssync.sink.nginx;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Progress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What this sink told the daemon about each pod incarnation, so that after each confirmed reload it
 * reports only what changed: online for a live server, draining for one written down, offline for
 * one gone from the file (or never there). Owned by the render thread.
 */
final class PodReports {

  enum State { ONLINE, DRAINING, OFFLINE, FAILING }

  private record Told(PodState pod, State state) {}

  private final Progress progress;
  /** Incarnations (key and uid) last reported online, draining or failing. */
  private final Map<String, Told> told = new HashMap<>();

  PodReports(Progress progress) {
    this.progress = progress;
  }

  private static String id(PodState p) {
    return p.key() + " " + p.uid();
  }

  /**
   * Reports what nginx holds now: {@code online} pods take traffic, {@code draining} ones are written
   * down; every other pod in {@code touched}, and every one told online or draining before, is offline.
   */
  void loaded(Collection<PodState> online, Collection<PodState> draining, Collection<PodState> touched) {
    Map<String, Told> now = new LinkedHashMap<>();
    online.forEach(p -> now.put(id(p), new Told(p, State.ONLINE)));
    draining.forEach(p -> now.putIfAbsent(id(p), new Told(p, State.DRAINING)));
    touched.forEach(p -> now.putIfAbsent(id(p), new Told(p, State.OFFLINE)));
    told.forEach((id, t) -> now.putIfAbsent(id, new Told(t.pod(), State.OFFLINE)));
    List<Told> later = new ArrayList<>();
    for (Map.Entry<String, Told> e : now.entrySet()) {
      Told t = e.getValue();
      Told before = told.get(e.getKey());
      boolean changed = before == null ? true : before.state() != t.state();
      if (t.state() == State.OFFLINE) {
        told.remove(e.getKey());
        if (changed) {
          progress.offline(t.pod());
        }
      } else {
        told.put(e.getKey(), t);
        if (changed) {
          later.add(t);
        }
      }
    }
    // An old incarnation's offline or draining first, then the new one's online.
    later.sort(java.util.Comparator.comparing(t -> t.state() == State.ONLINE));
    for (Told t : later) {
      if (t.state() == State.ONLINE) {
        progress.online(t.pod());
      } else {
        progress.draining(t.pod());
      }
    }
  }

  /** The attempt for these pods failed; it is retried, and whatever it brings is reported again. */
  void failing(Collection<PodState> pods, String error) {
    for (PodState p : pods) {
      told.put(id(p), new Told(p, State.FAILING));
      progress.failing(p, error);
    }
  }
}
