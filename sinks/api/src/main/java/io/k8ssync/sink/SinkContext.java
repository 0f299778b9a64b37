package io.k8ssync.sink;

import io.k8ssync.sink.config.Config;
import java.time.Clock;

/** What the daemon hands a sink when it creates it. */
public interface SinkContext {

  /** The sink's name from the config (unique), used in metrics and logs. */
  String name();

  /** The sink's own validated config (the {@code config:} block). */
  Config config();

  /** Which pods this sink manages. */
  Selector selector();

  /** True in dry-run: the daemon calls {@link Sink#plan} instead of {@link Sink#apply}. */
  boolean dryRun();

  SinkMetrics metrics();

  PodStateView pods();

  Clock clock();

  /**
   * The clusters whose entries this sink may reconcile now (ownership marks are per cluster): the
   * clusters the daemon watches, or with leader election those this replica leads. A snapshot.
   */
  default java.util.Set<String> clusters() {
    return pods().pods().stream().map(PodState::cluster).collect(java.util.stream.Collectors.toSet());
  }

  /**
   * Which term of leading {@code cluster} this replica is in: a number that changes each time it
   * starts leading the cluster again (always 0 without leader election). What a sink remembers of
   * a pod from an earlier term may be stale: another replica led in between and may have changed
   * the target.
   */
  default long leadershipTerm(String cluster) {
    return 0;
  }

  /** The shared rule, with this sink's selector applied. */
  default boolean desiredOnline(PodState pod) {
    return Registration.desiredOnline(pod, selector());
  }

  /** A logger named after this sink; sinks depend on the JDK only. */
  default System.Logger logger() {
    return System.getLogger("io.k8ssync.sink." + name());
  }
}
