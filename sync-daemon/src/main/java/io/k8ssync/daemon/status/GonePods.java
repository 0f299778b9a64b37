package io.k8ssync.daemon.status;

import io.k8ssync.daemon.rollout.PodProgress;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The last state of pods deleted from Kubernetes that some sink still holds (not reported offline
 * there): "why is this gone pod still in the gateway?" needs its service and IP after the cache
 * forgot it. Fed by the cache on the informer's thread (a map put); entries go once no sink holds
 * the pod, swept when the map has doubled since the last sweep and on every read.
 */
final class GonePods implements Consumer<PodChange> {

  private static final int MIN_SWEEP = 1024;

  private final Map<String, PodState> gone = new ConcurrentHashMap<>();
  private final PodProgress progress;
  private final Supplier<? extends Collection<String>> sinks;
  private volatile int sweepAt = MIN_SWEEP;

  GonePods(PodProgress progress, Supplier<? extends Collection<String>> sinks) {
    this.progress = progress;
    this.sinks = sinks;
  }

  @Override
  public void accept(PodChange change) {
    if (change.after() != null) {
      gone.remove(change.key());
    } else if (change.before() != null && held(change.before())) {
      gone.put(change.key(), change.before());
      if (gone.size() >= sweepAt) {
        sweep();
      }
    }
  }

  /** Gone pods some sink still holds. */
  List<PodState> held() {
    List<PodState> out = new ArrayList<>();
    gone.forEach((key, pod) -> {
      if (held(pod)) {
        out.add(pod);
      } else {
        gone.remove(key, pod);
      }
    });
    return out;
  }

  /** The gone pod {@code key} if some sink still holds it, else null. */
  PodState get(String key) {
    PodState p = gone.get(key);
    return p != null && held(p) ? p : null;
  }

  private boolean held(PodState pod) {
    for (String sink : sinks.get()) {
      PodProgress.Entry e = progress.get(sink, pod.key());
      if (e != null && e.uid().equals(pod.uid()) && e.state() != PodProgress.State.OFFLINE) {
        return true;
      }
    }
    return false;
  }

  private synchronized void sweep() {
    gone.forEach((key, pod) -> {
      if (!held(pod)) {
        gone.remove(key, pod);
      }
    });
    sweepAt = Math.max(MIN_SWEEP, gone.size() * 2);
  }

  int size() {
    return gone.size();
  }
}
