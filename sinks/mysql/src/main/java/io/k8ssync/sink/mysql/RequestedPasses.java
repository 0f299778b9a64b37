package io.k8ssync.sink.mysql;

import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Reconcile passes the sink was told to run now, beside its periodic one: when the informers
 * delivered their initial list, and when this replica starts leading a cluster. A request that comes
 * while one is pending joins it (many clusters gained at once make one pass); a cluster lost before
 * its pass ran is taken out of it.
 *
 * <p>Thread rules: {@link #request} and {@link #cancel} come on the daemon's threads and never block;
 * the pass runs on the sink's timer thread, one at a time.
 */
final class RequestedPasses {

  private final Set<String> pending = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final Executor timer;
  private final Consumer<Set<String>> pass;

  RequestedPasses(Executor timer, Consumer<Set<String>> pass) {
    this.timer = timer;
    this.pass = pass;
  }

  /** A pass over {@code clusters} soon, on the timer thread. Ignored once the timer is shut down. */
  void request(Collection<String> clusters) {
    pending.addAll(clusters);
    if (scheduled.compareAndSet(false, true)) {
      try {
        timer.execute(this::run);
      } catch (RejectedExecutionException e) {
        scheduled.set(false); // the sink is closed
      }
    }
  }

  /** {@code cluster} is no longer ours: a pass not started yet leaves it out. */
  void cancel(String cluster) {
    pending.remove(cluster);
  }

  private void run() {
    // Cleared before taking the clusters: a request after this point schedules a run of its own.
    scheduled.set(false);
    Set<String> clusters = new HashSet<>();
    for (Iterator<String> it = pending.iterator(); it.hasNext(); ) {
      clusters.add(it.next());
      it.remove();
    }
    if (!clusters.isEmpty()) {
      pass.accept(clusters);
    }
  }
}
