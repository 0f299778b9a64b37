package io.k8ssync.sink.http;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import java.lang.System.Logger.Level;

/**
 * Every {@code reassertEvery}, the online once more for each pod this sink holds online, so a
 * target that lost an entry (restart, manual removal) gets it back.
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
  private final Request online;

  Reassertion(SinkContext context, Calls calls, Ledger ledger, EntryCollisions entries, Warmup warmup, PodLocks locks,
              Request online) {
    this.context = context;
    this.log = context.logger();
    this.calls = calls;
    this.ledger = ledger;
    this.entries = entries;
    this.warmup = warmup;
    this.locks = locks;
    this.online = online;
  }

  /** One pass over the ledger; never throws (a scheduled task that throws is never run again). */
  void runSafely() {
    try {
      if (!context.pods().synced()) {
        return;
      }
      for (String key : ledger.keys()) {
        synchronized (locks.of(key)) {
          reassert(key);
        }
      }
    } catch (RuntimeException e) {
      log.log(Level.ERROR, "re-assertion pass failed: sink=" + context.name(), e);
    }
  }

  private void reassert(String key) {
    Ledger.Registered reg = ledger.registered(key);
    // Only pods of a cluster led now; a record from an earlier term (another replica may have
    // taken it offline since) only while the cache still wants that instance online.
    String cluster = reg == null ? null : reg.state().cluster();
    if (reg == null || !reg.confirmed() || !context.clusters().contains(cluster)) {
      return;
    }
    long term = context.leadershipTerm(cluster);
    PodState state = reg.state();
    if (reg.term() != term) {
      // From an earlier term: the other replica may have changed it since. Only the cache's
      // state of that very instance, once warmed up, and it stays uncertain.
      state = entries.wantedNow(reg.state());
      if (state == null || warmup.remainingNanos(state) > 0) {
        return;
      }
    }
    boolean uncertain = reg.uncertain() || reg.term() != term;
    try {
      calls.send(online, state, key, KIND);
      ledger.record(key, new Ledger.Registered(state, true, uncertain, term));
    } catch (SinkException e) {
      if (e.retriable()) {
        ledger.record(key, new Ledger.Registered(reg.state(), true, true, reg.term())); // it may still land after an offline
      }
      log.log(Level.WARNING, "re-assertion failed, next period tries again: sink={0} pod={1} error={2}",
          context.name(), key, e.getMessage());
    }
  }
}
