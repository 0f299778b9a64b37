package io.k8ssync.sink;

import io.k8ssync.sink.config.Config;
import java.time.Clock;
import java.time.Duration;

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

  /**
   * True while this replica may write {@code cluster}'s entries: checked at the moment of each
   * write, not once per batch. With leader election it is false from the moment the Lease's renewal
   * is overdue (before any standby may take it), not only once the elector reports the loss.
   */
  default boolean leads(String cluster) {
    return clusters().contains(cluster);
  }

  /**
   * How long a write to {@code cluster}'s entries may take from now and still end before another
   * replica may hold its Lease: {@link Duration#ZERO} when this replica does not lead it, and
   * practically unbounded without leader election. Start a call only when its timeout fits, and
   * bound the call's timeout by it, so no write of ours is in flight once the Lease may have passed.
   */
  default Duration writeBudget(String cluster) {
    return leads(cluster) ? FOREVER : Duration.ZERO;
  }

  /** What {@link #writeBudget} answers without leader election. */
  Duration FOREVER = Duration.ofDays(365);

  /**
   * Where this sink reports what it applied to each pod (see {@link Progress}); sinks whose factory
   * says {@link SinkFactory#routesTraffic()} must report, others may.
   */
  default Progress progress() {
    return Progress.NONE;
  }

  /**
   * True while a change bringing the pod to this very {@code state} (as the cache holds it) is on its
   * way to this sink: waiting for its turn or being applied. That change writes what the pod wants, so
   * a reconcile pass leaves the pod's missing or changed entry to it (at a start the whole initial list
   * is on its way while the first pass lists, and both wrote the same entries). False for a change
   * waiting out a retry's backoff (it failed: a pass is what repairs what keeps failing), for an older
   * state, for one held for another replica, and when not known (outside a daemon).
   */
  default boolean changePending(PodState state) {
    return false;
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
