package io.k8ssync.sink.http;

import io.k8ssync.sink.PassAfterFirstWrite;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.config.Config;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Online and offline calls for one target. The sink remembers which address it put online for
 * each pod (also when the call's outcome is unknown, e.g. a timeout), so the offline goes to
 * exactly that address, for that incarnation, once, before any online of a newer one.
 *
 * <p>This class is the decision flow; the parts live beside it: {@link Calls} (one call, admitted
 * at its moment by leadership and write budget), {@link Ledger} (what is registered),
 * {@link EntryCollisions} (whose entry an offline would hit), {@link Warmup},
 * {@link OfflineRepeater}, {@link DrainChecker}, {@link Reassertion}, and what the daemon told it:
 * {@link Leadership} (whose pending work {@link FollowUps} disowns when a cluster is lost).
 *
 * <p>Thread rules: the daemon never applies two changes of one pod at once; the sink's timers take
 * the same per-pod lock ({@link PodLocks}), so a re-assertion can never put a pod back online after
 * its offline, nor a repeated offline overtake a new online. Timers run on two executors: the
 * {@code timer} thread for re-assertion passes and housekeeping, and {@code followUps} for
 * repeated offlines and drain polls, so a pass stuck on a slow gateway delays neither.
 *
 * <p>It reports each pod's progress to the daemon as the target answered ({@link PodReports}).
 */
final class HttpSink implements Sink {

  private static final Duration SYNC_WAIT = Duration.ofMillis(200);
  private static final Duration HOUSEKEEPING = Duration.ofMinutes(1);

  private final SinkContext context;
  private final HttpTarget target;
  private final System.Logger log;
  private final Request online;
  private final Request offline;
  private final Duration reassertEvery;
  private final Calls calls;
  private final Ledger ledger = new Ledger();
  private final PodLocks locks = new PodLocks();
  private final Leadership leadership = new Leadership();
  private final PodReports reports;
  /** Told by {@link #podsSynced}: the cache is complete, so onlines and re-assertion may begin. */
  private volatile boolean synced;
  private final EntryCollisions entries;
  private final Warmup warmup;
  private final OfflineRepeater repeater;
  private final DrainChecker drains;
  private final Reassertion reassertion;
  /** Re-assertion passes and housekeeping. */
  private final ScheduledExecutorService timer;
  private final PassAfterFirstWrite passAfterFirstWrite;
  /** Repeated offlines and drain polls: never behind a re-assertion pass, owned by a leadership term. */
  private final FollowUps followUps;

  HttpSink(SinkContext context, HttpTarget target, LongSupplier nanoTime) {
    this.context = context;
    this.target = target;
    this.log = context.logger();
    Config c = context.config();
    this.online = Request.from("online", c.getSection("online"));
    this.offline = Request.from("offline", c.getSection("offline"));
    this.reassertEvery = c.getDuration("reassertEvery");
    this.timer = io.k8ssync.sink.Reconciliation.scheduler(context, "http-sink");
    this.passAfterFirstWrite = new PassAfterFirstWrite(timer, this::reassertSoon);
    this.followUps = new FollowUps(context.name(), leadership);
    this.calls = new Calls(context, target, nanoTime);
    this.reports = new PodReports(context.progress(), ledger, leadership);
    this.entries = new EntryCollisions(context, offline);
    this.warmup = new Warmup(c.getDuration("warmup"), nanoTime, context.clock());
    this.repeater = new OfflineRepeater(context, calls, ledger, entries, locks, leadership, offline,
        c.getDuration("repeatOfflineAfter"), followUps, reports);
    this.drains = new DrainChecker(context, target, nanoTime, leadership, followUps, locks, reports);
    this.reassertion = new Reassertion(context, calls, ledger, entries, warmup, locks, leadership, online, reports);
  }

  @Override
  public void start() {
    if (!reassertEvery.isZero() && !context.dryRun()) {
      timer.scheduleWithFixedDelay(this::reassertAll, reassertEvery.toMillis(), reassertEvery.toMillis(),
          TimeUnit.MILLISECONDS);
    }
    if (!context.dryRun()) {
      timer.scheduleWithFixedDelay(this::forgetStale, HOUSEKEEPING.toMillis(), HOUSEKEEPING.toMillis(),
          TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Told, not polled. A start remembers the term (records of an earlier term are stale: another
   * replica led in between) and re-asserts the cluster's pods at once, if re-assertion is on and the
   * initial list is complete. A stop disowns the cluster's pending repeated offlines and drain
   * checks (cancelled, counted as {@code disowned}) and ends its part of a running re-assertion
   * pass: another replica owns its entries now. Does not block.
   */
  @Override
  public void leadershipChanged(String cluster, long term, boolean leading) {
    Leadership.Term ended = leading ? leadership.started(cluster, term, context.clock().millis()) : leadership.stopped(cluster);
    if (ended != null) {
      followUps.disown(cluster, "this replica no longer leads " + ended + (leading ? ", term " + term + " began" : ""));
    }
    if (!leading) {
      passAfterFirstWrite.termEnded(cluster);
    }
    log.log(Level.INFO, "leadership: sink={0} cluster={1} term={2} leading={3}", context.name(), cluster, term, leading);
    if (leading && synced && !reassertEvery.isZero() && !context.dryRun()) {
      passAfterFirstWrite.termStarted(cluster); // after the takeover's first write (its fresh changes), or 1 s
    }
  }

  /**
   * The initial list is complete: onlines may go out. No re-assertion pass here: nothing was put
   * online before, since onlines wait for the list.
   */
  @Override
  public void podsSynced() {
    synced = true;
    if (!context.dryRun()) {
      try {
        timer.execute(this::warmUp); // before the first call, and on a standby long before its first write
      } catch (java.util.concurrent.RejectedExecutionException e) {
        log.log(Level.DEBUG, "client warm-up not started, the sink is closing: sink={0}", context.name());
      }
    }
  }

  /** The client run once in this process ({@link HttpTarget#warmUp}); the target sees nothing. */
  private void warmUp() {
    long t0 = System.nanoTime();
    boolean ok = target.warmUp();
    warmedUp = ok;
    log.log(Level.DEBUG, "client warm-up {0} in {1}ms: sink={2}", ok ? "done" : "failed", (System.nanoTime() - t0) / 1_000_000,
        context.name());
  }

  /** True once the client ran once ({@link #warmUp}); for tests. */
  boolean warmedUp() {
    return warmedUp;
  }

  private volatile boolean warmedUp;

  private void reassertAll() {
    if (synced) {
      reassertion.runSafely(null);
    }
  }

  private void reassertSoon(String cluster) {
    try {
      timer.execute(() -> reassertion.runSafely(cluster));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.log(Level.INFO, "re-assertion of cluster {0} not started, the sink is closing: sink={1}", cluster, context.name());
    }
  }

  @Override
  public void apply(List<PodChange> batch) throws SinkException {
    try {
      applyAll(batch);
    } finally {
      passAfterFirstWrite.written(); // a new term's first write is done (or failed): its re-assertion may start
    }
  }

  private void applyAll(List<PodChange> batch) throws SinkException {
    for (PodChange change : batch) {
      PodLocks.Held held = locks.lock(change.key());
      try {
        applyOne(change);
      } finally {
        held.close();
      }
    }
  }

  private void applyOne(PodChange change) throws SinkException {
    String key = change.key();
    long term = leadership.term(change.latest().cluster());
    Ledger.Offlined done = ledger.offlined(key);
    if (done != null && done.term() != term) {
      ledger.changeComplete(key);
    }
    applyOne(change, key, term);
    ledger.changeComplete(key); // the change is complete: its retries are over
  }

  private void applyOne(PodChange change, String key, long term) throws SinkException {
    PodState after = change.after();
    boolean wanted = context.desiredOnline(after);
    Ledger.Registered reg = ledger.registered(key);
    boolean stale = reg != null && reg.term() != term;
    if (stale) {
      // Made in an earlier term as leader: another replica led in between and may have taken it
      // offline, or its online may still land. It may be online: nothing more is known.
      reg = new Ledger.Registered(reg.state(), false, true, term);
      ledger.record(key, reg);
    }

    PodState had = reg == null ? null : reg.state();
    boolean sent = false;
    if (reg != null && !(wanted && reg.sameInstance(after))) {
      // Offline the exact address we put online, before anything else happens to this pod. The
      // online of a new incarnation follows, so only other pods are spared; but a stale record's
      // entry may hold that incarnation already, put there by the other replica.
      takeOffline(had, key, !reg.confirmed() || reg.uncertain(), stale && wanted ? after : null, term, !wanted);
      ledger.forget(key);
      reg = null;
      sent = true;
    }
    PodState before = change.before();
    Ledger.Offlined already = ledger.offlined(key);
    // Only with leader election can another replica have registered a pod this sink has no record
    // of (term 0: one daemon, whose records are complete; its own deferrals must not send offlines).
    if (term != 0 && before != null && context.desiredOnline(before) && !(wanted && Registration.sameInstance(before, after))
        && !Registration.sameInstance(before, had) && (already == null || !already.has(before))) {
      // Online without a record here: put online by another replica (a takeover replays what it
      // held) or by an earlier run, but the change says it was online, so the offline still goes out,
      // unless it would hit what this pod now holds at the same entry. What that replica's last
      // calls did is unknown here: one may still land, so the offline is repeated.
      takeOffline(before, key, true, wanted ? after : null, term, !wanted);
      sent = true;
    }
    if (!wanted) {
      if (change.before() != null) {
        warmup.reset(change.before().uid());
      }
      if (!sent && had == null && already == null && reports.createdInThisTerm(change.latest())) {
        reports.offline(change.latest()); // never online: no record, and nobody else can have put it online
      }
      return;
    }
    if (reg != null && reg.confirmed() && reg.state().weight() == after.weight()) {
      reports.online(after);
      return;
    }
    // Checked before anything is held or recorded: an online whose offline (or drain check) could
    // never be built would stay at the target, so the pod gets no call at all.
    String refusal = calls.refusal(online.kind(), after, key, online, offline, drains.request());
    if (refusal != null) {
      // Rejected for this sink, counted and logged: nothing to retry, but it will never be online here.
      reports.failing(after, refusal);
      return;
    }
    if (!synced) {
      throw SinkException.deferred("waiting for the initial pod list before the first online calls", SYNC_WAIT, Set.of(key));
    }
    long remaining = warmup.remainingNanos(after);
    if (remaining > 0) {
      throw SinkException.deferred("warm-up", Duration.ofNanos(remaining), Set.of(key));
    }
    // Remember before calling: a call that timed out, or was refused (409), may have landed and must
    // be undone. An earlier attempt left unconfirmed had an unknown outcome: it may land late.
    boolean uncertain = reg != null && reg.sameInstance(after) && (!reg.confirmed() || reg.uncertain());
    calls.admit(online.kind(), after, key); // a call never started leaves no record to undo
    ledger.record(key, new Ledger.Registered(after, false, uncertain, term));
    calls.send(online, after, key, online.kind());
    ledger.record(key, new Ledger.Registered(after, true, uncertain, term));
    reports.online(after);
  }

  /**
   * Offlines {@code old}, unless the call would take offline what another pod, or this pod's
   * {@code keep} state, holds at the same entry now. {@code uncertain}: an online of {@code old} may
   * still land, so the offline is repeated later. {@code report}: the pod leaves this sink (it is not
   * desired online in any state now), so its progress is reported; a pod moving to a new entry is not
   * offline.
   */
  private void takeOffline(PodState old, String key, boolean uncertain, PodState keep, long term, boolean report)
      throws SinkException {
    PodState holder = entries.sameEntry(old, keep) ? keep : entries.addressHolder(old, key);
    warmup.reset(old.uid());
    if (holder != null) {
      calls.count("offline", "skipped");
      log.log(Level.INFO, "offline skipped: sink={0} pod={1} address={2} reason=the address now belongs to pod {3} (uid {4}), "
          + "which is desired online and would be taken offline by this call", context.name(), key, old.address(),
          holder.key(), holder.uid());
      if (!holder.key().equals(key)) {
        // The entry is the holder's now, registered here or not (it may be warming up): a record
        // for it, unless it has one, so its own offline later takes the entry away.
        ledger.recordIfAbsent(holder.key(), new Ledger.Registered(holder, false, true, leadership.term(holder.cluster())));
        if (report) {
          reports.offline(old); // the entry carries another pod's traffic now: none of it is this one's
        }
      }
      return; // not recorded as done: a retry whose newest state moved on must still send it
    }
    if (calls.refuses(offline.kind(), old, key, offline)) {
      // Never sent, so nothing may land late: done for this change, and not repeated.
      ledger.offlinedDuringChange(key, old, term);
      if (report) {
        reports.offline(old); // its online could not be built either: it was never sent
      }
      return;
    }
    if (calls.send(offline, old, key, offline.kind())) {
      if (report && drains.request() != null) {
        reports.draining(old);
      } else if (report) {
        reports.offline(old);
      }
      drains.start(old, report);
    } else if (report) {
      reports.offline(old); // the target holds no such instance
    }
    ledger.offlinedDuringChange(key, old, term);
    if (uncertain) {
      repeater.schedule(old, key);
    }
  }

  /**
   * Forgets what no change will clean up: records of a cluster led elsewhere now, or in an earlier
   * term, whose instance is gone from the cache (another replica applied its deletion; should this
   * replica replay it, the change still names it), warm-up clocks of pods gone, and offlines
   * remembered for changes of an earlier term.
   */
  void forgetStale() {
    try {
      int records = 0;
      for (String key : ledger.keys()) {
        try (PodLocks.Held held = locks.tryLock(key)) {
          if (held == null) {
            continue; // a change of the pod is being applied: the next pass looks again
          }
          Ledger.Registered reg = ledger.registered(key);
          String cluster = reg == null ? null : reg.state().cluster();
          if (reg != null && (reg.term() != leadership.term(cluster) || !leadership.leads(cluster))
              && !entries.inCache(reg.state())) {
            ledger.forget(key);
            records++;
          }
        }
      }
      Set<String> uids = new HashSet<>();
      context.pods().pods().forEach(p -> uids.add(p.uid()));
      int clocks = warmup.forgetPodsGone(uids, HOUSEKEEPING);
      for (String key : ledger.keysWithOfflines()) {
        try (PodLocks.Held held = locks.tryLock(key)) {
          if (held == null) {
            continue; // a change of the pod is being applied: the next pass looks again
          }
          Ledger.Offlined o = ledger.offlined(key);
          if (o != null && !o.states().isEmpty() && o.term() != leadership.term(o.states().get(0).cluster())) {
            ledger.changeComplete(key);
          }
        }
      }
      if (records + clocks > 0) {
        log.log(Level.INFO, "forgot state of pods gone: sink={0} records={1} warmupClocks={2}", context.name(), records, clocks);
      }
    } catch (RuntimeException e) {
      log.log(Level.ERROR, "housekeeping pass failed: sink=" + context.name(), e);
    }
  }

  @Override
  public List<String> plan(List<PodChange> batch) {
    List<String> actions = new ArrayList<>();
    for (PodChange c : batch) {
      boolean wasOnline = context.desiredOnline(c.before());
      boolean isOnline = context.desiredOnline(c.after());
      boolean same = wasOnline && isOnline && Registration.sameInstance(c.before(), c.after());
      if (wasOnline && !same) {
        actions.add(planned(offline, c.before()));
      }
      if (isOnline && !same) {
        actions.add(planned(online, c.after()));
      }
    }
    return actions;
  }

  private static String planned(Request request, PodState pod) {
    try {
      return request.kind() + " " + request.render(pod);
    } catch (io.k8ssync.sink.template.Template.RefusedValue e) {
      return "refuse " + request.kind() + " of " + pod.key() + ": " + e.getMessage();
    }
  }

  /** Pods this sink holds online, by key (for tests and re-assertion). */
  Set<String> registeredKeys() {
    return ledger.keySet();
  }

  @Override
  public void close() {
    timer.shutdownNow();
    followUps.close();
    target.close();
  }
}
