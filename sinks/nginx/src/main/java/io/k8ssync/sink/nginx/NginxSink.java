package io.k8ssync.sink.nginx;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Reconciliation;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Keeps nginx's upstreams equal to the ready pods through include files. A change only marks the
 * files dirty; after the debounce ({@link RenderSchedule}) one render takes the whole state from the
 * pod cache ({@link UpstreamPlan}), and when its text differs from the live files it is swapped in
 * atomically ({@link FileSwap}), tested with {@code nginx -t} against the real main config, and
 * reloaded with the reload confirmed ({@link NginxProcess}). A failed test or reload puts the
 * previous files back, leaves the running nginx alone, and holds: the render is retried with backoff
 * until it succeeds, and every change applied meanwhile fails (retriable) so the daemon shows the
 * sink failing. Progress is reported per pod once nginx runs the file ({@link PodReports}).
 *
 * <p>Thread rules: {@link #apply} runs on the daemon's queue workers and only records; everything
 * else runs on this sink's single scheduler thread, which owns the render state.
 */
final class NginxSink implements Sink {

  private final SinkContext context;
  private final NginxSinkConfig config;
  private final System.Logger log;
  private final NginxMetrics metrics;
  private final UpstreamFiles files;
  private final FileSwap swap;
  private final PodServers servers;
  private final SafeReload reloader;
  private final NginxProcess nginx;
  private final RenderSchedule schedule;
  private final PodReports reports;
  private final ScheduledExecutorService scheduler;
  private final ServerLine fallback;
  /** Pods changed since the last render, by key: their latest state, to report on. */
  private final Map<String, PodState> touched = new ConcurrentHashMap<>();
  private volatile String holdReason;
  private volatile boolean closed;

  // Owned by the scheduler thread.
  private Map<String, List<ServerLine>> written = Map.of();
  private final Map<String, Long> drainDeadlines = new HashMap<>();
  private Map<String, PodState> livePods = Map.of();
  private Map<String, PodState> drainingPods = Map.of();
  private java.util.Set<String> withoutLive = java.util.Set.of();
  private boolean mustReload = true;
  private int failures;
  /** Guarded by this: the oldest change not yet in the running nginx, or -1. */
  private long unappliedSince = -1;

  // Guarded by this.
  private ScheduledFuture<?> timer;
  private long timerAt = RenderSchedule.NEVER;

  NginxSink(SinkContext context, NginxSinkConfig config) {
    this.context = context;
    this.config = config;
    this.log = context.logger();
    this.metrics = new NginxMetrics(context.metrics());
    this.files = new UpstreamFiles(config);
    this.swap = new FileSwap(config.directory());
    this.servers = new PodServers(context, config);
    this.nginx = new NginxProcess(config);
    this.reloader = new SafeReload(files, swap, nginx, log, context.name());
    this.schedule = new RenderSchedule(config.minWait().toMillis(), config.maxWait().toMillis());
    this.reports = new PodReports(context.progress());
    this.scheduler = Reconciliation.scheduler(context, "nginx");
    this.fallback = config.fallbackServer() == null ? null
        : new ServerLine(config.fallbackServer(), 1, config.maxFails(), config.failTimeout(), false, false);
  }

  @Override
  public void start() throws SinkException {
    if (context.dryRun()) {
      return;
    }
    try {
      swap.removeLeftovers();
      written = files.readWritten();
    } catch (IOException e) {
      throw SinkException.fatal("cannot read the upstream files in " + config.directory() + ": " + e.getMessage(), e);
    }
    metrics.holding.set(0);
    metrics.pendingSince.set(0);
    checkWorkerShutdownTimeout();
    log.log(Level.INFO, "nginx sink started: sink={0} directory={1} upstreams already written={2}", context.name(),
        config.directory(), written.size());
  }

  /** Without worker_shutdown_timeout, each reload leaves old workers alive as long as their longest connection. */
  private void checkWorkerShutdownTimeout() throws SinkException {
    NginxProcess.Result dump;
    try {
      dump = nginx.dump();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw SinkException.retriable("interrupted while reading nginx's config", e);
    }
    if (!dump.ok()) {
      log.log(Level.WARNING, "nginx -T failed at start (renders hold until nginx -t passes): sink={0} nginx={1}",
          context.name(), NginxProcess.why(dump.detail()));
      return;
    }
    boolean set = NginxProcess.setsWorkerShutdownTimeout(dump.detail());
    metrics.shutdownTimeoutSet.set(set ? 1 : 0);
    if (!set) {
      log.log(Level.WARNING, "nginx config {0} does not set worker_shutdown_timeout: after each reload, old workers stay as long"
          + " as their longest connection (websockets, long polls), and frequent reloads pile them up; set it, e.g."
          + " worker_shutdown_timeout 30s: sink={1}", config.mainConfig(), context.name());
    }
  }

  @Override
  public int maxBatchSize() {
    return 1000;
  }

  @Override
  public void apply(List<PodChange> batch) throws SinkException {
    long now = context.clock().millis();
    for (PodChange c : batch) {
      PodState latest = c.latest();
      touched.put(c.key(), latest);
      if (c.after() != null && context.desiredOnline(c.after())) {
        String why = servers.unrenderable(c.after());
        if (why != null) {
          metrics.skipped.inc(why);
          log.log(Level.WARNING, "pod not written to nginx: sink={0} pod={1} uid={2} reason={3}", context.name(), c.key(),
              c.after().uid(), why.equals("address") ? "its address is not an IP" : "the upstream template gives an invalid name");
          context.progress().failing(c.after(), why.equals("address") ? "not an IP address" : "invalid upstream name");
        }
      }
    }
    markPending(now);
    schedule.changed(now);
    kick();
    String held = holdReason;
    if (held != null) {
      // Recorded and rendered as soon as nginx takes it; failing meanwhile shows the sink held in /readyz and the sink metrics.
      throw SinkException.retriable("nginx sink holds (the live files are kept, retried with backoff): " + held, null);
    }
  }

  private synchronized long pendingSince() {
    return unappliedSince;
  }

  private synchronized void markPending(long now) {
    if (unappliedSince < 0) {
      unappliedSince = now;
      metrics.pendingSince.set(now / 1000.0);
    }
  }

  @Override
  public List<String> plan(List<PodChange> batch) {
    List<String> out = new ArrayList<>();
    for (PodChange c : batch) {
      PodState p = c.after();
      if (p != null && context.desiredOnline(p) && servers.unrenderable(p) == null) {
        out.add("render " + servers.upstreamOf(p) + ": " + servers.line(p).render() + " (then nginx -t and reload, after the debounce)");
      } else {
        out.add("render without " + c.key() + " (down for " + config.drainDelay().toMillis() + "ms if it was written)");
      }
    }
    return out;
  }

  @Override
  public void podsSynced() {
    for (PodState p : context.pods().pods()) {
      touched.putIfAbsent(p.key(), p);
    }
    schedule.wakeAt(context.clock().millis());
    kick();
  }

  @Override
  public void leadershipChanged(String cluster, long term, boolean leading) {
    // Local files: every replica keeps its own nginx in step, whoever leads the cluster.
  }

  /** Makes sure the render thread wakes when the schedule says. */
  private synchronized void kick() {
    long due = schedule.due();
    if (closed || context.dryRun() || due == RenderSchedule.NEVER || (timer != null && timerAt <= due)) {
      return;
    }
    if (timer != null) {
      timer.cancel(false);
    }
    timerAt = due;
    try {
      timer = scheduler.schedule(this::fire, Math.max(0, due - context.clock().millis()), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      timer = null; // closing
    }
  }

  private void fire() {
    synchronized (this) {
      timer = null;
      timerAt = RenderSchedule.NEVER;
    }
    if (!context.pods().synced()) {
      return; // podsSynced wakes it: a render before the initial list would drain every pod not listed yet
    }
    try {
      long now = context.clock().millis();
      if (schedule.due() <= now) {
        cycle(now);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (RuntimeException e) {
      // A render that throws must not end the schedule: count it, hold and retry.
      failed("render", "write_failed", e.toString(), List.of(), context.clock().millis());
    }
    kick();
  }

  /** One render: plan, compare, and if the text changed, swap, test, reload, confirm. */
  private void cycle(long now) throws InterruptedException {
    if (holdReason != null) {
      metrics.retries.inc();
    }
    long first = schedule.take();
    List<PodState> batch = new ArrayList<>();
    for (String k : new ArrayList<>(touched.keySet())) {
      PodState p = touched.remove(k);
      if (p != null) {
        batch.add(p);
      }
    }
    PodServers.Desired desired = servers.of(context.pods().pods());
    Map<String, PodState> podOf = desired.podOf();
    UpstreamPlan plan = UpstreamPlan.of(desired.lines(), written, drainDeadlines, now, config.drainDelay(), fallback);
    Map<Path, String> text = files.render(plan.blocks().values());
    metrics.renders.inc();
    SafeReload.Outcome outcome = reloader.apply(text, mustReload);
    if (outcome.unchanged()) {
      metrics.unchanged.inc();
      loaded(plan, podOf, batch, now);
      return;
    }
    if (outcome.workers() >= 0) {
      metrics.reloadDuration.observeSeconds(outcome.seconds());
      metrics.workers.set(outcome.workers());
      schedule.holdUntil(context.clock().millis() + config.minReloadInterval().toMillis());
    }
    if (!outcome.ok()) {
      failed(outcome.stage(), outcome.result(), outcome.why(), batch, now);
      return;
    }
    metrics.reloads.inc("ok");
    long done = context.clock().millis();
    metrics.lastSuccess.set(done / 1000.0);
    long oldest = pendingSince();
    long since = oldest >= 0 ? oldest : first;
    if (since >= 0) {
      metrics.changeToReload.observeSeconds(Math.max(0, done - since) / 1000.0);
    }
    mustReload = false;
    log.log(Level.INFO, "nginx reloaded: sink={0} files={1} upstreams={2} workers={3}", context.name(), outcome.filesChanged(),
        plan.blocks().size(), outcome.workers());
    loaded(plan, podOf, batch, done);
  }

  /** nginx runs {@code plan} now: remember it, time the drains, report every pod. */
  private void loaded(UpstreamPlan plan, Map<String, PodState> podOf, List<PodState> batch, long now) {
    written = plan.servers();
    drainDeadlines.keySet().retainAll(plan.draining());
    for (String k : plan.draining()) {
      drainDeadlines.putIfAbsent(k, now + config.drainDelay().toMillis());
    }
    drainDeadlines.values().stream().min(Long::compare).ifPresent(schedule::wakeAt);
    Map<String, PodState> live = new HashMap<>();
    Map<String, PodState> draining = new HashMap<>();
    plan.blocks().forEach((u, b) -> {
      for (ServerLine s : b.servers()) {
        String k = UpstreamPlan.key(u, s.address());
        PodState p = podOf.get(k);
        if (p != null && !s.down()) {
          live.put(k, p);
        } else if (plan.draining().contains(k)) {
          PodState was = livePods.containsKey(k) ? livePods.get(k) : drainingPods.get(k);
          if (was != null) {
            draining.put(k, was);
          }
        }
      }
    });
    livePods = live;
    drainingPods = draining;
    java.util.Set<String> empty = new java.util.TreeSet<>();
    plan.blocks().forEach((u, b) -> {
      if (b.noLiveServer()) {
        empty.add(u);
      }
    });
    for (String u : empty) {
      if (!withoutLive.contains(u)) {
        metrics.emptied.inc();
        log.log(Level.WARNING, "upstream has no ready pod: sink={0} upstream={1} written={2}", context.name(), u,
            plan.blocks().get(u).fallback() ? "the fallback server " + config.fallbackServer()
                : "the last servers, down (nginx refuses an empty upstream)");
      }
    }
    withoutLive = empty;
    metrics.withoutLiveServer.set(empty.size());
    // A pod desired online but not renderable was reported failing by apply; it is not "offline".
    List<PodState> gone = batch.stream().filter(p -> !servers.refused(p)).toList();
    reports.loaded(live.values(), draining.values(), gone);
    if (holdReason != null) {
      log.log(Level.INFO, "nginx sink recovered: sink={0} after {1} failed attempts", context.name(), failures);
    }
    holdReason = null;
    failures = 0;
    metrics.holding.set(0);
    synchronized (this) {
      if (touched.isEmpty()) {
        unappliedSince = -1;
        metrics.pendingSince.set(0);
      }
    }
  }

  /** The attempt failed at {@code stage}: the live files are back as they were; hold and retry with backoff. */
  private void failed(String stage, String result, String why, Collection<PodState> batch, long now) {
    metrics.reloads.inc(result);
    failures++;
    long backoff = Math.min(config.retryMaxDelay().toMillis(), 1000L << Math.min(failures - 1, 20));
    for (PodState p : batch) {
      touched.putIfAbsent(p.key(), p);
    }
    markPending(now);
    schedule.holdUntil(now + backoff);
    schedule.wakeAt(now + backoff);
    holdReason = stage + " failed: " + why;
    metrics.holding.set(1);
    log.log(Level.WARNING, "nginx sink holds: {0} failed; the live files and the running nginx are unchanged; retry in {1}ms:"
        + " sink={2} result={3} attempt={4} error={5}", stage, backoff, context.name(), result, failures, why);
    reports.failing(batch, stage + " failed: " + why);
  }

  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      if (timer != null) {
        timer.cancel(false);
      }
    }
    // A render in flight finishes (each of its steps is bounded by reloadTimeout), so no candidate is left untested.
    scheduler.shutdown();
    try {
      if (!scheduler.awaitTermination(config.reloadTimeout().toMillis() * 3 + 1000, TimeUnit.MILLISECONDS)) {
        scheduler.shutdownNow();
      }
    } catch (InterruptedException e) {
      scheduler.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
