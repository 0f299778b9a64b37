package io.k8ssync.sink.http;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import java.lang.System.Logger.Level;

/**
 * Every {@code reassertEvery}, the online once more for each pod this sink holds online, so a
 * target that lost an entry (restart, manual removal) gets it back.
 *
 * <p>A pass is one call at a time on the sink's timer thread. It stops at the first retriable
 * failure: a gateway that times out would otherwise cost one timeout per pod (a 1,000-pod pass
 * over an hour); the next period starts over. It never waits for a pod's lock: a pod whose change
 * is being applied is left to that change.
 */
final class Reassertion {

  private static final String KIND = "reassert";

  private final SinkContext context;
  private final System.Logger log;
  private final Calls calls;
  private final Ledger ledger;
  private final EntryCollisions entries;
  private final Warmup warmup;
  private final PodLocks locks;
  private final Leadership leadership;
  private final Request online;
  private final SinkMetrics.Counter passes;
  private final PodReports reports;

  Reassertion(SinkContext context, Calls calls, Ledger ledger, EntryCollisions entries, Warmup warmup, PodLocks locks,
              Leadership leadership, Request online, PodReports reports) {
    this.context = context;
    this.log = context.logger();
    this.calls = calls;
    this.ledger = ledger;
    this.entries = entries;
    this.warmup = warmup;
    this.locks = locks;
    this.leadership = leadership;
    this.online = online;
    this.reports = reports;
    this.passes = context.metrics().counter("http_reassert_passes_total",
        "Re-assertion passes, by outcome (complete, stopped: ended at a retriable failure, the rest waits for the next period)",
        "outcome");
  }

  /**
   * One pass over the ledger, of the clusters led now, or only {@code onlyCluster} when not null;
   * never throws (a scheduled task that throws is never run again).
   */
  void runSafely(String onlyCluster) {
    try {
      int done = 0;
      int busy = 0;
      java.util.List<String> keys = ledger.keys();
      for (String key : keys) {
        Ledger.Registered peek = ledger.registered(key);
        if (onlyCluster != null && (peek == null || !peek.state().cluster().equals(onlyCluster))) {
          done++;
          continue;
        }
        try (PodLocks.Held held = locks.tryLock(key)) {
          if (held == null) {
            busy++;
            continue;
          }
          SinkException failed = reassert(key);
          if (failed != null && failed.retriable()) {
            passes.inc("stopped");
            countBusy(busy);
            log.log(Level.WARNING, "re-assertion pass stopped at a retriable failure, the next period starts over: sink={0} "
                + "pod={1} checked={2} busy={3} left={4} error={5}", context.name(), key, done, busy, keys.size() - done - busy - 1,
                failed.getMessage());
            return;
          }
          done++;
        }
      }
      passes.inc("complete");
      if (busy > 0) {
        countBusy(busy);
        log.log(Level.INFO, "re-assertion pass left {0} pods to the changes being applied to them: sink={1}", busy, context.name());
      }
    } catch (RuntimeException e) {
      log.log(Level.ERROR, "re-assertion pass failed: sink=" + context.name(), e);
    }
  }

  /** Pods a pass left to the change being applied to them (it makes the target agree itself). */
  private void countBusy(int busy) {
    if (busy > 0) {
      calls.count(busy, KIND, "busy");
    }
  }

  /** Re-asserts one pod, under its lock; the failure, if the call failed. */
  private SinkException reassert(String key) {
    Ledger.Registered reg = ledger.registered(key);
    // Only pods of a cluster led now (checked per pod: a lost lead ends the cluster's part of a
    // pass); a record from an earlier term (another replica may have taken it offline since) only
    // while the cache still wants that instance online.
    String cluster = reg == null ? null : reg.state().cluster();
    if (reg == null || !reg.confirmed() || !leadership.leads(cluster)) {
      return null;
    }
    long term = leadership.term(cluster);
    PodState state = reg.state();
    if (reg.term() != term) {
      // From an earlier term: the other replica may have changed it since. Only the cache's
      // state of that very instance, once warmed up, and it stays uncertain.
      state = entries.wantedNow(reg.state());
      if (state == null || warmup.remainingNanos(state) > 0) {
        return null;
      }
    }
    boolean uncertain = reg.uncertain() || reg.term() != term;
    if (state != reg.state()) {
      String refusal = calls.refusal(KIND, state, key, online);
      if (refusal != null) {
        reports.failing(state, refusal); // the cache's state of it has a value the online cannot carry: not sent
        return null;
      }
    }
    try {
      calls.send(online, state, key, KIND);
      ledger.record(key, new Ledger.Registered(state, true, uncertain, term));
      reports.online(state); // what a new term re-learns: online at the target, as it answered
      return null;
    } catch (SinkException e) {
      reports.failing(state, e.getMessage());
      if (e.retriable()) {
        ledger.record(key, new Ledger.Registered(reg.state(), true, true, reg.term())); // it may still land after an offline
      } else {
        log.log(Level.WARNING, "re-assertion failed, next period tries again: sink={0} pod={1} error={2}",
            context.name(), key, e.getMessage());
      }
      return e;
    }
  }
}
