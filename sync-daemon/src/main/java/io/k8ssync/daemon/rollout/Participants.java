package io.k8ssync.daemon.rollout;

import io.k8ssync.daemon.dispatch.WorkQueue;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Selector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;

/**
 * The sinks a rollout waits for, and the two questions asked of them about a pod: is it online in
 * every one that should have it, and is it offline in every one that may have had it. Answers
 * come from what the sinks reported ({@link PodProgress}), never from what was merely asked of them.
 */
public final class Participants {

  /** One sink a rollout waits for: its selector, its consumers' lag, and its queue. */
  public record Sink(String name, Selector selector, Duration propagationDelay, WorkQueue queue) {}

  /** What a sink still owes a pod, for people: {@code consul (failing: HTTP 503)}. */
  record Owed(String sink, String what) {
    @Override public String toString() {
      return sink + " (" + what + ")";
    }
  }

  private final List<Sink> sinks;
  private final PodProgress progress;
  private final LongSupplier nanoTime;
  /**
   * Per cluster, since when (epoch millis) this replica's sinks know everything they did for it:
   * a pod created after that and never reported was never online here.
   */
  private final ToLongFunction<String> knownSince;

  Participants(List<Sink> sinks, PodProgress progress, LongSupplier nanoTime, ToLongFunction<String> knownSince) {
    this.sinks = List.copyOf(sinks);
    this.progress = progress;
    this.nanoTime = nanoTime;
    this.knownSince = knownSince;
  }

  List<Sink> sinks() {
    return sinks;
  }

  /** The sinks that want {@code pod} online: ready to register, valid, and selected. */
  List<Sink> routing(PodState pod) {
    List<Sink> out = new ArrayList<>(sinks.size());
    for (Sink s : sinks) {
      if (Registration.desiredOnline(pod, s.selector())) {
        out.add(s);
      }
    }
    return out;
  }

  /** What keeps {@code pod} from being online everywhere it should be: empty once it is. */
  List<Owed> notYetOnline(PodState pod) {
    List<Owed> owed = new ArrayList<>();
    for (Sink s : routing(pod)) {
      PodProgress.Entry e = progress.get(s.name(), pod.key());
      if (e != null && e.uid().equals(pod.uid()) && e.state() == PodProgress.State.ONLINE
          && java.util.Objects.equals(e.address(), pod.address())) {
        continue;
      }
      if (e != null && e.uid().equals(pod.uid()) && e.state() == PodProgress.State.FAILING) {
        owed.add(new Owed(s.name(), "failing: " + e.error()));
      } else {
        owed.add(new Owed(s.name(), "pending"));
      }
    }
    return owed;
  }

  /**
   * What keeps {@code pod} from being offline everywhere it may have been: empty once it is. A
   * sink that took it offline counts once its consumers' propagation delay passed; {@code due}
   * gets the nanoTime when the first such delay ends (or stays as it was).
   */
  List<Owed> notYetOffline(PodState pod, long[] due) {
    List<Owed> owed = new ArrayList<>();
    long now = nanoTime.getAsLong();
    for (Sink s : sinks) {
      if (pod.service() == null || pod.rejected() || !s.selector().matches(pod)) {
        continue; // never registrable in this sink: nothing of it can be there
      }
      if (s.queue().unfinished(pod.key())) {
        owed.add(new Owed(s.name(), "change not applied yet"));
        continue;
      }
      PodProgress.Entry e = progress.get(s.name(), pod.key());
      if (e != null && e.uid().equals(pod.uid())) {
        if (e.state() != PodProgress.State.OFFLINE) {
          owed.add(new Owed(s.name(), e.state() == PodProgress.State.FAILING ? "failing: " + e.error()
              : e.state().name().toLowerCase(java.util.Locale.ROOT)));
        } else if (e.wasOnline() && now - e.offlineAtNanos() < s.propagationDelay().toNanos()) {
          long end = e.offlineAtNanos() + s.propagationDelay().toNanos();
          due[0] = due[0] == 0 ? end : Math.min(due[0], end);
          owed.add(new Owed(s.name(), "propagating to its consumers"));
        }
        continue;
      }
      if (Registration.desiredOnline(pod, s.selector())) {
        owed.add(new Owed(s.name(), "online"));
      } else if (pod.createdAtMillis() < knownSince.applyAsLong(pod.cluster())) {
        // Created before this replica's sinks knew the cluster: an entry of an earlier process or
        // leader may be there, and the sink's reconcile or re-assertion reports what it finds.
        owed.add(new Owed(s.name(), "not reported yet"));
      }
    }
    return owed;
  }

  /** True when no sink selects the pod as one it could ever route traffic to. */
  boolean unmanaged(PodState pod) {
    if (pod.service() == null || pod.rejected()) {
      return true;
    }
    return sinks.stream().noneMatch(s -> s.selector().matches(pod));
  }

  static String describe(List<Owed> owed) {
    StringBuilder b = new StringBuilder();
    for (Owed o : owed) {
      if (b.length() > 0) {
        b.append(", ");
      }
      b.append(o);
    }
    return b.toString();
  }
}
