package io.k8ssync.sink.http;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.config.Config;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Online and offline calls for one target. The sink remembers which address it put online for
 * each pod (also when the call's outcome is unknown, e.g. a timeout), so the offline goes to
 * exactly that address, for that incarnation, once, before any online of a newer one.
 *
 * <p>Thread rules: the daemon never applies two changes of one pod at once; the periodic
 * re-assertion takes the same per-pod lock, so it can never put a pod back online after its
 * offline. Drain checks run on the sink's own scheduler and never hold up the queue.
 */
final class HttpSink implements Sink {

  /**
   * What this sink put online (or tried to) for a pod; {@code confirmed} once the target said yes.
   * A rejected online stays here unconfirmed: the target may hold it anyway, so its offline still goes out.
   * {@code uncertain}: some online call of it had an unknown outcome and may still land, so its
   * offline is repeated later ({@code repeatOfflineAfter}).
   */
  private record Registered(PodState state, boolean confirmed, boolean uncertain, long term) {
    boolean sameInstance(PodState p) {
      return Registration.sameInstance(state, p);
    }
  }

  private record Offlined(List<PodState> states, long term) {
    boolean has(PodState p) {
      return states.stream().anyMatch(s -> Registration.sameInstance(s, p));
    }
  }

  private static final Duration SYNC_WAIT = Duration.ofMillis(200);
  /** Attempts of a repeated offline that fails, and re-checks while its instance is wanted but not registered yet. */
  private static final int REPEAT_ATTEMPTS = 3;
  private static final int REPEAT_POSTPONEMENTS = 240;
  private static final Duration HOUSEKEEPING = Duration.ofMinutes(1);

  private final SinkContext context;
  private final HttpTarget target;
  private final LongSupplier nanoTime;
  private final System.Logger log;
  private final Request online;
  private final Request offline;
  private final Request drain;
  private final java.util.regex.Pattern drainExpect;
  private final Duration drainInterval;
  private final Duration drainMaxWait;
  private final Duration warmup;
  private final Duration reassertEvery;
  private final Duration repeatOfflineAfter;
  private final int bodyLogLimit;
  private final Map<String, Registered> registered = new ConcurrentHashMap<>();
  private final Map<String, Long> onlineSince = new ConcurrentHashMap<>();
  /**
   * What this sink took offline for a pod during a change not yet completed, and in which
   * leadership term: a retry or deferral of the same change must not offline it again.
   */
  private final Map<String, Offlined> offlined = new ConcurrentHashMap<>();
  /** Repeated offlines not yet due, each as "pod address" (for the log line if the sink closes first). */
  private final Map<Object, String> repeatsScheduled = new ConcurrentHashMap<>();
  private final Object[] locks = new Object[64];
  private final ScheduledExecutorService scheduler;
  private final SinkMetrics.Counter calls;
  private final SinkMetrics.Histogram callSeconds;
  private final SinkMetrics.Counter drains;
  private final SinkMetrics.Histogram drainSeconds;

  HttpSink(SinkContext context, HttpTarget target, LongSupplier nanoTime) {
    this.context = context;
    this.target = target;
    this.nanoTime = nanoTime;
    this.log = context.logger();
    Config c = context.config();
    this.online = Request.from("online", c.getSection("online"));
    this.offline = Request.from("offline", c.getSection("offline"));
    Config d = c.getSection("drain");
    this.drain = d.getString("url") == null ? null : Request.get("drain", d.getString("method"), d.getString("url"));
    this.drainExpect = java.util.regex.Pattern.compile(d.getString("expect"));
    this.drainInterval = d.getDuration("interval");
    this.drainMaxWait = d.getDuration("maxWait");
    this.warmup = c.getDuration("warmup");
    this.reassertEvery = c.getDuration("reassertEvery");
    this.repeatOfflineAfter = c.getDuration("repeatOfflineAfter");
    this.bodyLogLimit = c.getInt("responseBodyLogLimit");
    for (int i = 0; i < locks.length; i++) {
      locks[i] = new Object();
    }
    this.scheduler = io.k8ssync.sink.Reconciliation.scheduler(context, "http-sink");
    SinkMetrics m = context.metrics();
    calls = m.counter("http_calls_total", "Calls to an http target, by kind (online, offline, reassert) and outcome (ok, retry, rejected, skipped)", "kind", "outcome");
    callSeconds = m.histogram("http_call_seconds", "Latency of calls to an http target, by kind", "kind");
    drains = m.counter("http_drains_total", "Drain checks after offline, by outcome (drained, timeout)", "outcome");
    drainSeconds = m.histogram("http_drain_seconds", "Time from offline until the drain check ended");
  }

  @Override
  public void start() {
    if (!reassertEvery.isZero() && !context.dryRun()) {
      scheduler.scheduleWithFixedDelay(this::reassertSafely, reassertEvery.toMillis(), reassertEvery.toMillis(),
          TimeUnit.MILLISECONDS);
    }
    if (!context.dryRun()) {
      scheduler.scheduleWithFixedDelay(this::forgetStale, HOUSEKEEPING.toMillis(), HOUSEKEEPING.toMillis(),
          TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public void apply(List<PodChange> batch) throws SinkException {
    for (PodChange change : batch) {
      synchronized (lock(change.key())) {
        applyOne(change);
      }
    }
  }

  private void applyOne(PodChange change) throws SinkException {
    String key = change.key();
    long term = context.leadershipTerm(change.latest().cluster());
    Offlined done = offlined.get(key);
    if (done != null && done.term() != term) {
      offlined.remove(key);
    }
    applyOne(change, key, term);
    offlined.remove(key); // the change is complete: its retries are over
  }

  private void applyOne(PodChange change, String key, long term) throws SinkException {
    PodState after = change.after();
    boolean wanted = context.desiredOnline(after);
    Registered reg = registered.get(key);
    boolean stale = reg != null && reg.term() != term;
    if (stale) {
      // Made in an earlier term as leader: another replica led in between and may have taken it
      // offline, or its online may still land. It may be online: nothing more is known.
      reg = new Registered(reg.state(), false, true, term);
      registered.put(key, reg);
    }

    PodState had = reg == null ? null : reg.state();
    if (reg != null && !(wanted && reg.sameInstance(after))) {
      // Offline the exact address we put online, before anything else happens to this pod. The
      // online of a new incarnation follows, so only other pods are spared; but a stale record's
      // entry may hold that incarnation already, put there by the other replica.
      takeOffline(had, key, !reg.confirmed() || reg.uncertain(), stale && wanted ? after : null, term);
      registered.remove(key);
      reg = null;
    }
    PodState before = change.before();
    Offlined already = offlined.get(key);
    // Only with leader election can another replica have registered a pod this sink has no record
    // of (term 0: one daemon, whose records are complete; its own deferrals must not send offlines).
    if (term != 0 && before != null && context.desiredOnline(before) && !(wanted && Registration.sameInstance(before, after))
        && !Registration.sameInstance(before, had) && (already == null || !already.has(before))) {
      // Online without a record here: put online by another replica (a takeover replays what it
      // held) or by an earlier run, but the change says it was online, so the offline still goes out,
      // unless it would hit what this pod now holds at the same entry. What that replica's last
      // calls did is unknown here: one may still land, so the offline is repeated.
      takeOffline(before, key, true, wanted ? after : null, term);
    }
    if (!wanted) {
      if (change.before() != null) {
        onlineSince.remove(change.before().uid());
      }
      return;
    }
    if (reg != null && reg.confirmed() && reg.state().weight() == after.weight()) {
      return;
    }
    if (!context.pods().synced()) {
      throw SinkException.deferred("waiting for the initial pod list before the first online calls", SYNC_WAIT, Set.of(key));
    }
    long remaining = warmupRemainingNanos(after);
    if (remaining > 0) {
      throw SinkException.deferred("warm-up", Duration.ofNanos(remaining), Set.of(key));
    }
    // Remember before calling: a call that timed out, or was refused (409), may have landed and must
    // be undone. An earlier attempt left unconfirmed had an unknown outcome: it may land late.
    boolean uncertain = reg != null && reg.sameInstance(after) && (!reg.confirmed() || reg.uncertain());
    registered.put(key, new Registered(after, false, uncertain, term));
    call(online, after, key);
    registered.put(key, new Registered(after, true, uncertain, term));
  }

  /**
   * Offlines {@code old}, unless the call would take offline what another pod, or this pod's
   * {@code keep} state, holds at the same entry now. {@code uncertain}: an online of {@code old} may
   * still land, so the offline is repeated later.
   */
  private void takeOffline(PodState old, String key, boolean uncertain, PodState keep, long term) throws SinkException {
    PodState holder = sameEntry(old, keep) ? keep : addressHolder(old, key);
    onlineSince.remove(old.uid());
    if (holder != null) {
      calls.inc("offline", "skipped");
      log.log(Level.INFO, "offline skipped: sink={0} pod={1} address={2} reason=the address now belongs to pod {3} (uid {4}), "
          + "which is desired online and would be taken offline by this call", context.name(), key, old.address(),
          holder.key(), holder.uid());
      if (!holder.key().equals(key)) {
        // The entry is the holder's now, registered here or not (it may be warming up): a record
        // for it, unless it has one, so its own offline later takes the entry away.
        registered.putIfAbsent(holder.key(), new Registered(holder, false, true, context.leadershipTerm(holder.cluster())));
      }
      return; // not recorded as done: a retry whose newest state moved on must still send it
    }
    if (call(offline, old, key)) {
      scheduleDrain(old);
    }
    Offlined done = offlined.get(key);
    List<PodState> states = new ArrayList<>(done == null ? List.of() : done.states());
    states.add(old);
    offlined.put(key, new Offlined(List.copyOf(states), term));
    if (uncertain && !repeatOfflineAfter.isZero()) {
      scheduleRepeat(old, key, 1, 0);
    }
  }

  private void scheduleRepeat(PodState old, String key, int attempt, int postponed) {
    Object token = new Object();
    repeatsScheduled.put(token, key + " " + old.address());
    try {
      scheduler.schedule(() -> {
        repeatsScheduled.remove(token);
        repeatOffline(old, key, attempt, postponed);
      }, repeatOfflineAfter.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      if (repeatsScheduled.remove(token) == null) {
        return; // counted by close()
      }
      calls.inc("offline_repeat", "dropped");
      log.log(Level.WARNING, "repeated offline not scheduled, the sink is closing: sink={0} pod={1} address={2}",
          context.name(), key, old.address());
    }
  }

  /**
   * The offline of {@code old} once more, for an online that may have landed after it. Under the
   * pod's lock, so it cannot overtake a new online of the same instance. Skipped when this sink
   * holds that instance online again, another pod or incarnation is desired online at the same
   * entry, or another replica leads the cluster now; postponed while the instance is desired online
   * but not registered here yet (it may never be, e.g. turning unready within its warm-up).
   */
  private void repeatOffline(PodState old, String key, int attempt, int postponed) {
    try {
      synchronized (lock(key)) {
        String skip = repeatSkipReason(old, key);
        if (skip != null) {
          calls.inc("offline_repeat", "skipped");
          log.log(Level.INFO, "repeated offline skipped: sink={0} pod={1} address={2} reason={3}",
              context.name(), key, old.address(), skip);
          return;
        }
        if (wantedNow(old) != null) {
          boolean again = postponed < REPEAT_POSTPONEMENTS;
          calls.inc("offline_repeat", again ? "postponed" : "abandoned");
          log.log(again ? Level.INFO : Level.WARNING, "repeated offline {0}: sink={1} pod={2} address={3} reason=the instance "
              + "is desired online again but not registered yet{4}", again ? "postponed" : "failed, abandoned", context.name(), key,
              old.address(), again ? "" : " after " + REPEAT_POSTPONEMENTS + " checks");
          if (again) {
            scheduleRepeat(old, key, attempt, postponed + 1);
          }
          return;
        }
        try {
          call(offline, old, key, "offline_repeat");
        } catch (SinkException e) {
          boolean again = e.retriable() && attempt < REPEAT_ATTEMPTS;
          if (again) {
            scheduleRepeat(old, key, attempt + 1, postponed);
          } else {
            calls.inc("offline_repeat", "abandoned");
          }
          log.log(Level.WARNING, "repeated offline failed: sink={0} pod={1} address={2} attempt={3} next={4} error={5}",
              context.name(), key, old.address(), attempt, again ? "in " + repeatOfflineAfter.toMillis() + "ms" : "none, abandoned",
              e.getMessage());
        }
      }
    } catch (RuntimeException e) {
      calls.inc("offline_repeat", "abandoned");
      log.log(Level.ERROR, "repeated offline failed unexpectedly, abandoned: sink=" + context.name() + " pod=" + key, e);
    }
  }

  private String repeatSkipReason(PodState old, String key) {
    if (!context.clusters().contains(old.cluster())) {
      return "another replica leads cluster " + old.cluster() + " now";
    }
    Registered reg = registered.get(key);
    if (reg != null && reg.sameInstance(old)) {
      return "the instance is online again";
    }
    if (reg != null && sameEntry(old, reg.state())) {
      return "the address is registered to the pod's incarnation " + reg.state().uid() + " now";
    }
    List<PodState> candidates = new ArrayList<>(context.pods().podsWithIp(old.ip()));
    if (old.service() != null) {
      candidates.addAll(context.pods().podsOfService(old.service())); // the pod's newer incarnation elsewhere
    }
    for (PodState p : candidates) {
      if (context.desiredOnline(p) && !Registration.sameInstance(p, old) && sameEntry(old, p)) {
        return "its entry now belongs to pod " + p.key() + " (uid " + p.uid() + "), which is desired online";
      }
    }
    return null;
  }

  /**
   * True when the offline of {@code old} would remove {@code p}'s registration: the same offline
   * request (method, URL and body), e.g. a URL naming the address, or the pod's name.
   */
  private boolean sameEntry(PodState old, PodState p) {
    if (p == null) {
      return false;
    }
    try {
      Request.Rendered a = offline.render(old);
      Request.Rendered b = offline.render(p);
      return a.method().equals(b.method()) && a.uri().equals(b.uri()) && java.util.Objects.equals(a.body(), b.body());
    } catch (IllegalArgumentException e) {
      return false; // not renderable: not provably the same entry; the offline goes out and reports its own error
    }
  }

  private long warmupRemainingNanos(PodState pod) {
    long wait = warmup.toNanos();
    String podWarmup = pod.options().get("warmup");
    if (podWarmup != null) {
      wait = Math.max(wait, TimeUnit.SECONDS.toNanos(Long.parseLong(podWarmup)));
    }
    if (wait == 0) {
      return 0;
    }
    long now = nanoTime.getAsLong();
    long since = onlineSince.computeIfAbsent(pod.uid(), u -> now);
    long remaining = since + wait - now;
    if (pod.readySinceMillis() > 0) {
      // Counted from the pod's Ready condition (the kubelet's clock) as well, whichever ends first:
      // a pod ready for long is not held again by a restart or a takeover of this daemon.
      // The condition time is whole seconds, truncated: the pod may have become ready up to 1 s later.
      long readyFor = TimeUnit.MILLISECONDS.toNanos(Math.max(0, context.clock().millis() - pod.readySinceMillis() - 1000));
      remaining = Math.min(remaining, wait - readyFor);
    }
    return remaining;
  }

  /**
   * Another pod of the cache, desired online now at {@code old}'s address, whose registration the
   * offline of {@code old} would remove (same offline URL); null when there is none. An IP reused
   * quickly lets the old pod's offline arrive after the new pod's online.
   */
  private PodState addressHolder(PodState old, String key) {
    if (old.address() == null) {
      return null;
    }
    for (PodState p : context.pods().podsWithIp(old.ip())) {
      if (!p.key().equals(key) && context.desiredOnline(p) && sameEntry(old, p)) {
        return p;
      }
    }
    return null;
  }

  private boolean call(Request request, PodState pod, String key) throws SinkException {
    return call(request, pod, key, request.kind());
  }

  /**
   * Sends one call. True when the target accepted it; false when it rejected an offline, which is
   * then done (retrying cannot help and the next online must not wait). Throws on anything else.
   */
  private boolean call(Request request, PodState pod, String key, String kind) throws SinkException {
    Request.Rendered r;
    try {
      r = request.render(pod);
    } catch (IllegalArgumentException e) {
      calls.inc(kind, "rejected");
      throw SinkException.fatal(kind + " request for " + key + " cannot be built: " + e.getMessage(), e);
    }
    long t0 = nanoTime.getAsLong();
    HttpTarget.Outcome o = target.send(r);
    double seconds = (nanoTime.getAsLong() - t0) / 1e9;
    callSeconds.observeSeconds(seconds, kind);
    switch (o.verdict()) {
      case OK:
        calls.inc(kind, "ok");
        log.log(Level.INFO, "{0}: sink={1} pod={2} address={3} status={4} ms={5}",
            kind, context.name(), key, pod.address(), o.status(), Math.round(seconds * 1000));
        return true;
      case RETRY:
        calls.inc(kind, "retry");
        throw SinkException.retriable(kind + " " + r.method() + " " + r.uri() + " failed: "
            + (o.error() != null ? o.error().getClass().getSimpleName() + " " + o.error().getMessage() : "status " + o.status()),
            o.error());
      default:
        calls.inc(kind, "rejected");
        log.log(Level.WARNING, "{0} rejected, not retried: sink={1} pod={2} address={3} status={4} body={5}",
            kind, context.name(), key, pod.address(), o.status(), truncate(o.body()));
        if (request == offline) {
          // E.g. 404: the target holds no such instance, so nothing is left to undo.
          return false;
        }
        // A rejected online or re-assertion keeps its registration, so the pod's offline still goes out.
        throw SinkException.fatal(kind + " " + r.method() + " " + r.uri() + " rejected with status " + o.status(), null);
    }
  }

  private String truncate(String body) {
    if (body == null) {
      return "";
    }
    String oneLine = body.replaceAll("[\\r\\n\\t]+", " ");
    return oneLine.length() <= bodyLogLimit ? oneLine : oneLine.substring(0, bodyLogLimit) + "...(" + body.length() + " chars)";
  }

  private void scheduleDrain(PodState pod) {
    if (drain == null) {
      return;
    }
    long start = nanoTime.getAsLong();
    Runnable poll = new Runnable() {
      @Override
      public void run() {
        try {
          HttpTarget.Outcome o = target.sendWithoutAuth(drain.render(pod));
          long elapsed = nanoTime.getAsLong() - start;
          boolean drained = o.verdict() == HttpTarget.Verdict.OK && o.body() != null && drainExpect.matcher(o.body()).find();
          if (drained || elapsed >= drainMaxWait.toNanos()) {
            String outcome = drained ? "drained" : "timeout";
            drains.inc(outcome);
            drainSeconds.observeSeconds(elapsed / 1e9);
            log.log(drained ? Level.INFO : Level.WARNING, "drain check {0}: sink={1} pod={2}/{3} address={4} ms={5}",
                outcome, context.name(), pod.namespace(), pod.name(), pod.address(), elapsed / 1_000_000);
            return;
          }
          scheduler.schedule(this, drainInterval.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
          log.log(Level.WARNING, "drain check failed, giving up: sink=" + context.name() + " pod=" + pod.name(), e);
          drains.inc("error");
        }
      }
    };
    try {
      scheduler.execute(poll);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      drains.inc("error");
      log.log(Level.WARNING, "drain check not started, the sink is closing: sink={0} pod={1}", context.name(), pod.name());
    }
  }

  private void reassertSafely() {
    try {
      if (!context.pods().synced()) {
        return;
      }
      for (String key : new ArrayList<>(registered.keySet())) {
        synchronized (lock(key)) {
          Registered reg = registered.get(key);
          // Only pods of a cluster led now; a record from an earlier term (another replica may have
          // taken it offline since) only while the cache still wants that instance online.
          String cluster = reg == null ? null : reg.state().cluster();
          if (reg == null || !reg.confirmed() || !context.clusters().contains(cluster)) {
            continue;
          }
          long term = context.leadershipTerm(cluster);
          PodState state = reg.state();
          if (reg.term() != term) {
            // From an earlier term: the other replica may have changed it since. Only the cache's
            // state of that very instance, once warmed up, and it stays uncertain.
            state = wantedNow(reg.state());
            if (state == null || warmupRemainingNanos(state) > 0) {
              continue;
            }
          }
          boolean uncertain = reg.uncertain() || reg.term() != term;
          try {
            call(online, state, key, "reassert");
            registered.put(key, new Registered(state, true, uncertain, term));
          } catch (SinkException e) {
            if (e.retriable()) {
              registered.put(key, new Registered(reg.state(), true, true, reg.term())); // it may still land after an offline
            }
            log.log(Level.WARNING, "re-assertion failed, next period tries again: sink={0} pod={1} error={2}",
                context.name(), key, e.getMessage());
          }
        }
      }
    } catch (RuntimeException e) {
      // A scheduled task that throws is never run again; keep the schedule alive.
      log.log(Level.ERROR, "re-assertion pass failed: sink=" + context.name(), e);
    }
  }

  /** The cache's current state of this very instance when it is desired online; else null. */
  private PodState wantedNow(PodState state) {
    return context.pods().podsWithIp(state.ip()).stream()
        .filter(p -> context.desiredOnline(p) && Registration.sameInstance(p, state)).findFirst().orElse(null);
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
      for (String key : new ArrayList<>(registered.keySet())) {
        synchronized (lock(key)) {
          Registered reg = registered.get(key);
          String cluster = reg == null ? null : reg.state().cluster();
          if (reg != null && (reg.term() != context.leadershipTerm(cluster) || !context.clusters().contains(cluster))
              && context.pods().podsWithIp(reg.state().ip()).stream().noneMatch(p -> Registration.sameInstance(p, reg.state()))) {
            registered.remove(key);
            records++;
          }
        }
      }
      Set<String> uids = new java.util.HashSet<>();
      context.pods().pods().forEach(p -> uids.add(p.uid()));
      int clocks = 0;
      long cutoff = nanoTime.getAsLong() - HOUSEKEEPING.toNanos();
      for (Map.Entry<String, Long> e : new ArrayList<>(onlineSince.entrySet())) {
        // Started before the last pass: not a pod that arrived after the snapshot.
        if (!uids.contains(e.getKey()) && e.getValue() - cutoff < 0 && onlineSince.remove(e.getKey(), e.getValue())) {
          clocks++;
        }
      }
      for (String key : new ArrayList<>(offlined.keySet())) {
        synchronized (lock(key)) {
          Offlined o = offlined.get(key);
          if (o != null && !o.states().isEmpty() && o.term() != context.leadershipTerm(o.states().get(0).cluster())) {
            offlined.remove(key);
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
        actions.add("offline " + offline.render(c.before()));
      }
      if (isOnline && !same) {
        actions.add("online " + online.render(c.after()));
      }
    }
    return actions;
  }

  /** Pods this sink holds online, by key (for tests and re-assertion). */
  Set<String> registeredKeys() {
    return Set.copyOf(registered.keySet());
  }

  private Object lock(String key) {
    return locks[Math.floorMod(key.hashCode(), locks.length)];
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    List<String> dropped = new ArrayList<>();
    for (Object token : new ArrayList<>(repeatsScheduled.keySet())) {
      String pod = repeatsScheduled.remove(token);
      if (pod != null) {
        dropped.add(pod);
      }
    }
    if (!dropped.isEmpty()) {
      calls.inc(dropped.size(), "offline_repeat", "dropped");
      log.log(Level.WARNING, "closing with {0} repeated offlines not yet due; they are not sent: sink={1} pods={2}",
          dropped.size(), context.name(), dropped);
    }
    target.close();
  }
}
