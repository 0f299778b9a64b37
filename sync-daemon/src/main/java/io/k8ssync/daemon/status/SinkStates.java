package io.k8ssync.daemon.status;

import io.k8ssync.daemon.rollout.PodProgress;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Where one pod stands in each sink: what the sink wants (the shared registration rule and its
 * selector) against what it last reported ({@link PodProgress}) and whether this replica applies the
 * pod's cluster. {@link PodStatuses} pages, filters and counts pods with it. Thread-safe: it only reads.
 */
final class SinkStates {

  private final StatusSource source;

  SinkStates(StatusSource source) {
    this.source = source;
  }

  /**
   * A pod with what every sink's answer needs, worked out once: its key and address (each a new
   * string when asked of the record) and whether the shared rule wants it online.
   */
  static final class Subject {
    final PodState pod;
    final boolean gone;
    final String key;
    final String address;
    final boolean desired;

    Subject(PodState pod, boolean gone) {
      this.pod = pod;
      this.gone = gone;
      this.key = pod.key();
      this.address = pod.address();
      this.desired = !gone && Registration.desiredOnline(pod);
    }

    boolean wants(PodStatuses.Sink s) {
      return desired && s.selector().matches(pod);
    }
  }

  /** The sink's last report about this incarnation of the pod, or null. */
  PodProgress.Entry entry(PodStatuses.Sink s, Subject subject) {
    PodProgress.Entry e = source.progress().get(s.name(), subject.key);
    return e != null && e.uid().equals(subject.pod.uid()) ? e : null;
  }

  /**
   * Where {@code pod} stands in {@code s}: failing while its last attempt failed; standby where
   * this replica does not apply the pod's cluster; otherwise online, draining or offline as reported,
   * and pending while that differs from what the sink wants.
   */
  SinkPodState stateIn(PodStatuses.Sink s, Subject subject, PodProgress.Entry e) {
    if (!s.everyReplica() && !source.replica().leads(subject.pod.cluster())) {
      return SinkPodState.STANDBY;
    }
    if (e != null && e.state() == PodProgress.State.FAILING) {
      return SinkPodState.FAILING;
    }
    if (subject.wants(s)) {
      return e != null && e.state() == PodProgress.State.ONLINE && Objects.equals(e.address(), subject.address)
          ? SinkPodState.ONLINE : SinkPodState.PENDING;
    }
    if (e == null) {
      return SinkPodState.OFFLINE;
    }
    return switch (e.state()) {
      case ONLINE -> SinkPodState.PENDING;
      case DRAINING -> SinkPodState.DRAINING;
      default -> SinkPodState.OFFLINE;
    };
  }

  /** The pod's fields and its state in each sink; {@code withQueue} also asks each queue whether a change waits. */
  PodView view(List<PodStatuses.Sink> sinks, PodState pod, boolean isGone, boolean withQueue) {
    Map<String, PodView.InSink> in = new LinkedHashMap<>();
    Subject subject = new Subject(pod, isGone);
    for (PodStatuses.Sink s : sinks) {
      PodProgress.Entry e = entry(s, subject);
      SinkPodState state = stateIn(s, subject, e);
      boolean want = subject.wants(s);
      Boolean queued = withQueue && s.runner() != null ? s.runner().queue().unfinished(subject.key) : null;
      in.put(s.name(), new PodView.InSink(state.label(), want ? "online" : "offline", s.selector().matches(pod),
          e == null ? null : e.state().name().toLowerCase(java.util.Locale.ROOT),
          e == null ? null : Instant.ofEpochMilli(e.sinceMillis()).toString(),
          e == null ? null : ErrorText.forPeople(e.error()),
          e == null || e.attempts() == 0 ? null : e.attempts(), queued));
    }
    return new PodView(pod.cluster(), pod.namespace(), pod.name(), pod.uid(), pod.service(), pod.ip(),
        pod.port() > 0 ? pod.port() : null, pod.node(), pod.phase().name(), pod.ready(), pod.terminating(), isGone,
        PodView.Rejection.of(pod.rejection()), in);
  }

  /** Adds {@code pod}'s state in each sink to that sink's tally; a pod the sink never selects is not counted. */
  void tally(List<PodStatuses.Sink> sinks, List<EnumMap<SinkPodState, int[]>> tallies, PodState pod, boolean isGone) {
    Subject subject = new Subject(pod, isGone);
    for (int i = 0; i < sinks.size(); i++) {
      PodStatuses.Sink s = sinks.get(i);
      SinkPodState st = stateIn(s, subject, entry(s, subject));
      if (st == SinkPodState.OFFLINE && !s.selector().matches(pod)) {
        continue; // a pod the sink never selects is not one of its pods
      }
      tallies.get(i).computeIfAbsent(st, k -> new int[1])[0]++;
    }
  }

  static Map<String, Integer> labels(EnumMap<SinkPodState, int[]> tally) {
    Map<String, Integer> m = new LinkedHashMap<>();
    tally.forEach((k, v) -> m.put(k.label(), v[0]));
    return m;
  }
}
