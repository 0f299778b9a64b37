package io.k8ssync.sink.upstream;

import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import java.time.Duration;

/**
 * Lets a registry write start only while this replica leads the entry's cluster with enough of its
 * Lease left for the call to end: checked at the moment of each write, not once per batch, so a
 * replica whose renewal is overdue stops writing before any standby may take over.
 */
final class WriteGate {

  private final SinkContext context;
  private final Duration callTimeout;
  private final SinkMetrics.Counter refused;

  WriteGate(SinkContext context, Duration callTimeout) {
    this.context = context;
    this.callTimeout = callTimeout;
    this.refused = context.metrics().counter("upstream_writes_refused_total",
        "Registry writes not started because this replica does not lead the cluster, or its Lease has less left than one call"
            + " may take (reason: not_leader, lease_short)", "reason");
  }

  boolean open(String cluster) {
    return context.writeBudget(cluster).compareTo(callTimeout) > 0;
  }

  /** How long a refused write is held before the daemon looks at it again (and parks it, once the cluster is led elsewhere). */
  static final Duration HOLD = Duration.ofMillis(500);

  /**
   * Throws unless a write for {@code cluster} may start now: a hold of {@link #HOLD}, counted here
   * and by the daemon, not a failure, so a step-down never counts as the sink failing (readyz, alerts).
   */
  void require(String cluster, String what) throws SinkException {
    Duration budget = context.writeBudget(cluster);
    if (budget.compareTo(callTimeout) > 0) {
      return;
    }
    String reason = budget.isZero() ? "not_leader" : "lease_short";
    refused.inc(reason);
    throw SinkException.deferred(what + " not started: " + (budget.isZero()
        ? "this replica does not lead cluster " + cluster + " now"
        : "the Lease of cluster " + cluster + " has " + budget.toMillis() + "ms left, less than one call may take ("
            + callTimeout.toMillis() + "ms)"), HOLD, java.util.Set.of());
  }
}
