package io.k8ssync.sink.http;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;

/**
 * Sends an offline once more, {@code repeatOfflineAfter} after it went out, when the instance's
 * online had an unknown outcome and may have landed after the offline. A repeat belongs to the
 * leadership term it was scheduled in: once that ends, it is disowned, not sent ({@link FollowUps}).
 */
final class OfflineRepeater implements FollowUps.Owner {

  /** Attempts of a repeated offline that fails, and re-checks while its instance is wanted but not registered yet. */
  private static final int ATTEMPTS = 3;
  private static final int POSTPONEMENTS = 240;
  private static final String KIND = "offline_repeat";

  private final SinkContext context;
  private final System.Logger log;
  private final Calls calls;
  private final Ledger ledger;
  private final EntryCollisions entries;
  private final PodLocks locks;
  private final Leadership leadership;
  private final Request offline;
  private final Duration after;
  private final FollowUps followUps;
  private final PodReports reports;

  OfflineRepeater(SinkContext context, Calls calls, Ledger ledger, EntryCollisions entries, PodLocks locks,
                  Leadership leadership, Request offline, Duration after, FollowUps followUps, PodReports reports) {
    this.context = context;
    this.log = context.logger();
    this.calls = calls;
    this.ledger = ledger;
    this.entries = entries;
    this.locks = locks;
    this.leadership = leadership;
    this.offline = offline;
    this.after = after;
    this.followUps = followUps;
    this.reports = reports;
  }

  /** Repeats the offline of {@code old} later, in the current term of its cluster, unless repeating is off. */
  void schedule(PodState old, String key) {
    if (!after.isZero()) {
      schedule(old, key, leadership.current(old.cluster()), 1, 0);
    }
  }

  private void schedule(PodState old, String key, Leadership.Term term, int attempt, int postponed) {
    followUps.schedule(this, term, key + " " + old.address(), () -> repeat(old, key, term, attempt, postponed), after);
  }

  @Override
  public void dropped(String outcome, String reason, List<String> what) {
    calls.count(what.size(), KIND, outcome);
    log.log(Level.WARNING, "{0} repeated offlines {1}, not sent: sink={2} reason={3} pods={4}",
        what.size(), outcome, context.name(), reason, what);
  }

  /**
   * The offline of {@code old} once more, for an online that may have landed after it. Under the
   * pod's lock, so it cannot overtake a new online of the same instance (postponed while a change of
   * the pod holds it: a timer never waits for a pod). Skipped when this sink
   * holds that instance online again, or another pod or incarnation is desired online at the same
   * entry; postponed while the instance is desired online
   * but not registered here yet (it may never be, e.g. turning unready within its warm-up).
   */
  private void repeat(PodState old, String key, Leadership.Term term, int attempt, int postponed) {
    try (PodLocks.Held held = locks.tryLock(key)) {
      if (held == null) {
        postpone(old, key, term, attempt, postponed, "a change of the pod is being applied");
        return;
      }
      String skip = skipReason(old, key);
      if (skip != null) {
        calls.count(KIND, "skipped");
        log.log(Level.INFO, "repeated offline skipped: sink={0} pod={1} address={2} reason={3}",
            context.name(), key, old.address(), skip);
        return;
      }
      if (entries.wantedNow(old) != null) {
        postpone(old, key, term, attempt, postponed, "the instance is desired online again but not registered yet");
        return;
      }
      try {
        calls.send(offline, old, key, KIND);
        reports.offlineUnlessRegistered(old); // clears a failure an earlier attempt reported
      } catch (SinkException e) {
        boolean again = e.retriable() && attempt < ATTEMPTS;
        reports.failingUnlessRegistered(old, e.getMessage() + (again ? "" : "; abandoned after " + attempt + " attempts"));
        if (again) {
          schedule(old, key, term, attempt + 1, postponed);
        } else {
          calls.count(KIND, "abandoned");
        }
        log.log(Level.WARNING, "repeated offline failed: sink={0} pod={1} address={2} attempt={3} next={4} error={5}",
            context.name(), key, old.address(), attempt, again ? "in " + after.toMillis() + "ms" : "none, abandoned",
            e.getMessage());
      }
    } catch (RuntimeException e) {
      calls.count(KIND, "abandoned");
      log.log(Level.ERROR, "repeated offline failed unexpectedly, abandoned: sink=" + context.name() + " pod=" + key, e);
    }
  }

  private void postpone(PodState old, String key, Leadership.Term term, int attempt, int postponed, String reason) {
    boolean again = postponed < POSTPONEMENTS;
    calls.count(KIND, again ? "postponed" : "abandoned");
    log.log(again ? Level.INFO : Level.WARNING, "repeated offline {0}: sink={1} pod={2} address={3} reason={4}{5}",
        again ? "postponed" : "failed, abandoned", context.name(), key, old.address(), reason,
        again ? "" : " after " + POSTPONEMENTS + " checks");
    if (again) {
      schedule(old, key, term, attempt, postponed + 1);
    }
  }

  private String skipReason(PodState old, String key) {
    Ledger.Registered reg = ledger.registered(key);
    if (reg != null && reg.sameInstance(old)) {
      return "the instance is online again";
    }
    if (reg != null && entries.sameEntry(old, reg.state())) {
      return "the address is registered to the pod's incarnation " + reg.state().uid() + " now";
    }
    PodState holder = entries.otherInstanceAtEntry(old);
    if (holder != null) {
      return "its entry now belongs to pod " + holder.key() + " (uid " + holder.uid() + "), which is desired online";
    }
    return null;
  }
}
