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
  private record Registered(PodState state, boolean confirmed, boolean uncertain) {
    boolean sameInstance(PodState p) {
      return Registration.sameInstance(state, p);
    }
  }

  private static final Duration SYNC_WAIT = Duration.ofMillis(200);

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
    PodState after = change.after();
    boolean wanted = context.desiredOnline(after);
    Registered reg = registered.get(key);

    PodState had = reg == null ? null : reg.state();
    if (reg != null && !(wanted && reg.sameInstance(after))) {
      // Offline the exact address we put online, before anything else happens to this pod.
      takeOffline(had, key, !reg.confirmed() || reg.uncertain());
      registered.remove(key);
      reg = null;
    }
    PodState before = change.before();
    if (before != null && context.desiredOnline(before) && !(wanted && Registration.sameInstance(before, after))
        && !Registration.sameInstance(before, had)) {
      // Online without a record here: put online by another replica (a takeover replays what it
      // held) or by an earlier run, but the change says it was online, so the offline still goes out.
      // What that replica's last calls did is unknown here: one may still land.
      takeOffline(before, key, true);
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
    registered.put(key, new Registered(after, false, uncertain));
    call(online, after, key);
    registered.put(key, new Registered(after, true, uncertain));
  }

  /**
   * Offlines {@code old}, unless another pod now holds its address and the call would take that one
   * offline. {@code uncertain}: an online of it may still land, so the offline is repeated later.
   */
  private void takeOffline(PodState old, String key, boolean uncertain) throws SinkException {
    PodState holder = addressHolder(old, key);
    if (holder != null) {
      calls.inc("offline", "skipped");
      log.log(Level.INFO, "offline skipped: sink={0} pod={1} address={2} reason=the address now belongs to pod {3}, "
          + "which is desired online and would be taken offline by this call", context.name(), key, old.address(), holder.key());
      onlineSince.remove(old.uid());
      return;
    }
    if (call(offline, old, key)) {
      scheduleDrain(old);
    }
    onlineSince.remove(old.uid());
    if (uncertain && !repeatOfflineAfter.isZero()) {
      scheduleRepeat(old, key, 1);
    }
  }

  private static final int REPEAT_ATTEMPTS = 3;

  private void scheduleRepeat(PodState old, String key, int attempt) {
    scheduler.schedule(() -> repeatOffline(old, key, attempt), repeatOfflineAfter.toMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * The offline of {@code old} once more, for an online that may have landed after it. Under the
   * pod's lock, so it cannot overtake a new online of the same instance; skipped when that instance
   * is wanted online again, its address belongs to another pod, or another replica leads now.
   */
  private void repeatOffline(PodState old, String key, int attempt) {
    try {
      synchronized (lock(key)) {
        String skip = repeatSkipReason(old, key);
        if (skip != null) {
          calls.inc("offline_repeat", "skipped");
          log.log(Level.INFO, "repeated offline skipped: sink={0} pod={1} address={2} reason={3}",
              context.name(), key, old.address(), skip);
          return;
        }
        try {
          call(offline, old, key, "offline_repeat");
        } catch (SinkException e) {
          boolean again = e.retriable() && attempt < REPEAT_ATTEMPTS;
          if (again) {
            scheduleRepeat(old, key, attempt + 1);
          } else {
            calls.inc("offline_repeat", "abandoned");
          }
          log.log(Level.WARNING, "repeated offline failed: sink={0} pod={1} address={2} attempt={3} next={4} error={5}",
              context.name(), key, old.address(), attempt, again ? "in " + repeatOfflineAfter.toMillis() + "ms" : "none, abandoned",
              e.getMessage());
        }
      }
    } catch (RuntimeException e) {
      log.log(Level.ERROR, "repeated offline failed unexpectedly: sink=" + context.name() + " pod=" + key, e);
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
    for (PodState p : context.pods().podsWithIp(old.ip())) {
      if (context.desiredOnline(p) && Registration.sameInstance(p, old)) {
        return "the instance is wanted online again";
      }
    }
    PodState holder = addressHolder(old, key);
    return holder == null ? null : "the address now belongs to pod " + holder.key();
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
    return since + wait - now;
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
      if (!p.key().equals(key) && old.address().equals(p.address()) && context.desiredOnline(p)) {
        try {
          if (offline.render(old).uri().equals(offline.render(p).uri())) {
            return p;
          }
        } catch (IllegalArgumentException e) {
          // Not renderable: not provably the same entry; the offline goes out and reports its own error.
        }
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
    scheduler.execute(poll);
  }

  private void reassertSafely() {
    try {
      if (!context.pods().synced()) {
        return;
      }
      for (String key : new ArrayList<>(registered.keySet())) {
        synchronized (lock(key)) {
          Registered reg = registered.get(key);
          if (reg != null && reg.confirmed()) {
            try {
              call(online, reg.state(), key, "reassert");
            } catch (SinkException e) {
              if (e.retriable()) {
                registered.put(key, new Registered(reg.state(), true, true)); // it may still land after an offline
              }
              log.log(Level.WARNING, "re-assertion failed, next period tries again: sink={0} pod={1} error={2}",
                  context.name(), key, e.getMessage());
            }
          }
        }
      }
    } catch (RuntimeException e) {
      // A scheduled task that throws is never run again; keep the schedule alive.
      log.log(Level.ERROR, "re-assertion pass failed: sink=" + context.name(), e);
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
    target.close();
  }
}
