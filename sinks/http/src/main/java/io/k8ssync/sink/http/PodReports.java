package io.k8ssync.sink.http;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Progress;
import java.time.Duration;

/**
 * What the http sink tells the daemon about each pod ({@link Progress}), as the target answered:
 * <ul>
 *   <li><b>online</b> once the online call answered 2xx after the warm-up, or a re-assertion did
 *       (so after a new term the sink reports what it re-learned), or a change finds the pod's
 *       registration confirmed already;</li>
 *   <li><b>draining</b> once the offline answered 2xx while the drain check runs;</li>
 *   <li><b>offline</b> once the offline answered 2xx and the drain check passed, or gave up at its
 *       {@code maxWait} (the sink stops waiting: that bounds how long a pod is draining), or none is
 *       configured; once the target said it holds no such instance (a 4xx to an offline); once its
 *       entry belongs to another pod at that address. Also when the sink knows the pod was never
 *       online: it has no record of it, and the pod was created after this replica began leading
 *       its cluster (so no other replica and no earlier run can have put it online);</li>
 *   <li><b>failing</b> when a call fails: status or exception and origin only, never a URL's path,
 *       query or credentials, never a header value. The daemon reports failed changes itself; this
 *       class reports the sink's own calls (repeated offlines, re-assertions) and pods whose values
 *       cannot go into a request.</li>
 * </ul>
 * A registration's draining and offline are reported only while nothing of the pod is registered
 * here again: a pod that moved to another entry is as online as its new one.
 *
 * <p>Calls never block; made under the pod's lock ({@link PodLocks}) wherever the order of a report
 * and a call matters.
 */
final class PodReports {

  /** How far the API server's clock (a pod's creation time) may run ahead of ours. */
  private static final Duration CLOCK_SKEW = Duration.ofSeconds(5);

  private final Progress progress;
  private final Ledger ledger;
  private final Leadership leadership;

  PodReports(Progress progress, Ledger ledger, Leadership leadership) {
    this.progress = progress;
    this.ledger = ledger;
    this.leadership = leadership;
  }

  void online(PodState p) {
    progress.online(p);
  }

  void draining(PodState p) {
    progress.draining(p);
  }

  void offline(PodState p) {
    progress.offline(p);
  }

  void failing(PodState p, String error) {
    progress.failing(p, error);
  }

  /** Offline for {@code old}, unless something of its pod is registered here now; under the pod's lock. */
  void offlineUnlessRegistered(PodState old) {
    if (ledger.registered(old.key()) == null) {
      progress.offline(old);
    }
  }

  /** Failing for {@code old}'s offline, unless something of its pod is registered here now; under the pod's lock. */
  void failingUnlessRegistered(PodState old, String error) {
    if (ledger.registered(old.key()) == null) {
      progress.failing(old, error);
    }
  }

  /**
   * True when no online of this incarnation can have gone out but from this replica in its current
   * term of leading the pod's cluster: it was created after that term began. With no record in the
   * ledger, it was never online. A pod of before may have been put online by another replica or an
   * earlier run: not known, so not reported.
   */
  boolean createdInThisTerm(PodState p) {
    Leadership.Term term = leadership.current(p.cluster());
    return term != null && p.createdAtMillis() > term.sinceMillis + CLOCK_SKEW.toMillis();
  }
}
