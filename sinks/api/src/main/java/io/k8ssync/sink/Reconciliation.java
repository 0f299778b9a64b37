package io.k8ssync.sink;

import java.lang.System.Logger.Level;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What every reconciling sink shares: its own scheduler thread, and the bookkeeping of a pass —
 * drift found by kind, passes by outcome, the time of the last complete pass (which the
 * K8sSyncReconcileStale alert watches). A pass that throws is counted and logged, and the schedule
 * goes on (a scheduled task that throws would never run again).
 */
public final class Reconciliation {

  /** One reconcile pass. */
  @FunctionalInterface
  public interface Pass {
    void run() throws SinkException;
  }

  private final SinkContext context;
  private final SinkMetrics.Counter drift;
  private final SinkMetrics.Counter runs;
  private final SinkMetrics.Gauge lastSuccess;
  private final SinkMetrics.Counter leftToChanges;

  public Reconciliation(SinkContext context) {
    this.context = context;
    SinkMetrics m = context.metrics();
    drift = m.counter("reconcile_drift_total", "Differences a reconcile pass found, by kind (missing, changed, orphan)", "kind");
    runs = m.counter("reconcile_runs_total", "Reconcile passes, by outcome (ok, failed, skipped: a pod watch was down)", "outcome");
    lastSuccess = m.gauge("reconcile_last_success_timestamp_seconds", "Unix time of the last complete reconcile pass");
    leftToChanges = m.counter("reconcile_left_to_changes_total", "Missing or changed entries a reconcile pass left to a change"
        + " bringing their pod to its cached state on its way to the sink (waiting for its turn or being applied), which writes them");
  }

  /** A single daemon thread for this sink's timers (reconcile, drains, purges). */
  public static ScheduledExecutorService scheduler(SinkContext context, String what) {
    return Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, what + "-" + context.name());
      t.setDaemon(true);
      return t;
    });
  }

  public void drift(String kind) {
    drift.inc(kind);
  }

  /**
   * A pass left {@code entries} missing or changed entries to changes of their pods on their way to
   * the sink ({@link SinkContext#changePending}): counted, and one log line when there were any.
   */
  public void leftToChanges(int entries) {
    if (entries > 0) {
      leftToChanges.inc(entries);
      context.logger().log(Level.INFO, "reconcile left " + entries + " entries to the changes of their pods on their way to"
          + " the sink, which write them: sink=" + context.name());
    }
  }

  /**
   * Runs a pass; returns true when it completed. Never throws. Skipped, counted and logged, while a pod
   * watch is down: the cache may lack pods another replica registered, and the pass would take them
   * for orphans.
   */
  public boolean runSafely(Pass pass) {
    if (!context.pods().current()) {
      runs.inc("skipped");
      context.logger().log(Level.WARNING, "reconcile pass skipped: a pod watch is down, so the cache may lack pods"
          + " another replica registered; the next pass tries again: sink=" + context.name());
      return false;
    }
    try {
      pass.run();
      runs.inc("ok");
      lastSuccess.set(System.currentTimeMillis() / 1000.0);
      return true;
    } catch (SinkException | RuntimeException e) {
      runs.inc("failed");
      context.logger().log(Level.WARNING, "reconcile pass failed, the next one tries again: sink=" + context.name()
          + " error=" + e.getMessage());
      return false;
    }
  }
}
