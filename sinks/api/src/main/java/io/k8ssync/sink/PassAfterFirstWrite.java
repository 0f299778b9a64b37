package io.k8ssync.sink;

import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A new term's pass over a cluster, started once the term's first write is done, or after
 * {@link #BOUND_MS}, whichever comes first. At a takeover the daemon's queue hands out the fresh held
 * changes first and alone; a pass over 10,000 pods beside them took CPU and connections from them
 * (TakeoverBench). The pass itself runs in every new term all the same. Used by every sink whose
 * new term starts a pass over the cluster: the registries' reconcile, MySQL's, the HTTP re-assertion.
 *
 * <p>Thread rules: every method may be called on any thread and never blocks; {@code pass} runs on
 * the calling thread or the timer's.
 */
public final class PassAfterFirstWrite {

  /** The longest a new term's pass waits for the term's first write. */
  public static final long BOUND_MS = 1000;

  private final Set<String> waiting = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService timer;
  private final Consumer<String> pass;

  public PassAfterFirstWrite(ScheduledExecutorService timer, Consumer<String> pass) {
    this.timer = timer;
    this.pass = pass;
  }

  /** {@code cluster}'s new term began: its pass after the first write, or after the bound. */
  public void termStarted(String cluster) {
    waiting.add(cluster);
    try {
      timer.schedule(this::written, BOUND_MS, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      waiting.remove(cluster); // the sink is closing
    }
  }

  /** {@code cluster} is no longer led: no pass for it. */
  public void termEnded(String cluster) {
    waiting.remove(cluster);
  }

  /** A write is done (or failed), or the bound passed: the waiting passes start. */
  public void written() {
    if (waiting.isEmpty()) {
      return;
    }
    for (Iterator<String> it = waiting.iterator(); it.hasNext(); ) {
      String cluster = it.next();
      it.remove();
      pass.accept(cluster);
    }
  }
}
