package io.k8ssync.daemon.dispatch;

import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Transition;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands every pod change to every sink's runner. Runs on the informer's thread, so it only
 * enqueues; each runner has its own queue and workers.
 */
public final class Dispatcher implements Consumer<PodChange> {

  private static final Logger LOG = LoggerFactory.getLogger(Dispatcher.class);

  private final Map<String, SinkRunner> runners = new LinkedHashMap<>();
  private final ScheduledExecutorService timer;
  private final DaemonMetrics metrics;
  /** Set by {@link #shutdown}: the sinks are closing or closed, and are told nothing more. */
  private volatile boolean closed;
  /** {@code pod_changes_total} by transition: a label lookup per change cost more than the enqueue. */
  private final AtomicReferenceArray<CounterDataPoint> changeSeries = new AtomicReferenceArray<>(Transition.values().length);

  public Dispatcher(DaemonMetrics metrics) {
    this.metrics = metrics;
    ScheduledThreadPoolExecutor t = (ScheduledThreadPoolExecutor) Executors.newScheduledThreadPool(1, r -> {
      Thread thread = new Thread(r, "retry-timer");
      thread.setDaemon(true);
      return thread;
    });
    t.setRemoveOnCancelPolicy(true);
    this.timer = t;
    metrics.gaugePerKey("queue_depth", "Changes waiting in a sink's queue for this replica to apply (pods, where a pod's changes merge)",
        "sink", runners, r -> r.queue().waiting());
    metrics.gaugePerKey("queue_parked", "Changes a sink's queue holds for the leader of another cluster, replayed if this replica takes over",
        "sink", runners, r -> r.queue().parkedChanges());
    metrics.gaugePerKey("queue_capacity", "Changes a sink's queue takes for this replica to apply before it drops new ones; as many again held for another",
        "sink", runners, r -> r.capacity());
    metrics.gaugePerKey("sink_oldest_pending_seconds",
        "Age of the oldest change a sink has not applied yet: the sync lag (changes held for another replica's clusters do not count)",
        "sink", runners, r -> r.queue().oldestPendingSeconds());
    metrics.gaugePerKey("sink_consecutive_failures", "Failed apply calls in a row", "sink", runners,
        r -> r.consecutiveFailures());
    metrics.gaugePerKey("sink_healthy", "1 unless the sink failed its threshold of times in a row", "sink", runners,
        r -> r.failing() ? 0 : 1);
  }

  public ScheduledExecutorService timer() {
    return timer;
  }

  /** Adds a runner; call before the informers start. */
  public void add(SinkRunner runner) {
    runners.put(runner.name(), runner);
  }

  public Collection<SinkRunner> runners() {
    return runners.values();
  }

  public SinkRunner runner(String name) {
    return runners.get(name);
  }

  @Override
  public void accept(PodChange change) {
    changesOf(change.transition()).inc();
    for (SinkRunner r : runners.values()) {
      r.offer(change);
    }
  }

  /** The series of {@code pod_changes_total} for {@code t}, looked up by label once (it appears on first use). */
  private CounterDataPoint changesOf(Transition t) {
    CounterDataPoint p = changeSeries.get(t.ordinal());
    if (p == null) {
      p = metrics.changes.labelValues(t.name());
      changeSeries.set(t.ordinal(), p); // a race looks it up twice and gets the same series
    }
    return p;
  }

  public void start() {
    runners.values().forEach(SinkRunner::start);
  }

  /** Every sink applies changes only of the clusters {@code leads} accepts. Call before {@link #start}. */
  public void leadWhere(java.util.function.Predicate<String> leads) {
    runners.values().forEach(r -> r.leadWhere(leads));
  }

  /**
   * At a takeover every sink writes the held changes that came within {@code window} before it
   * first, ahead of the replays of older ones ({@link SinkRunner#replayFreshFirst}). Call before {@link #start}.
   */
  public void replayFreshFirst(Duration window) {
    runners.values().forEach(r -> r.replayFreshFirst(window));
  }

  /**
   * {@code cluster}'s informers delivered their initial list. A standby whose list lands just before
   * a takeover would otherwise count the whole list as fresh and write it ahead of the one change
   * nobody applied (TakeoverBench at 10,000 pods: 2–4 s behind 10,000 listed pods).
   */
  public void initialListDone(String cluster) {
    runners.values().forEach(r -> r.initialListDone(cluster));
  }

  /**
   * Leadership of {@code cluster} moved: every sink is told first (so it cancels what it had
   * pending for a cluster it lost, and knows its new term before any replay), then what was held
   * back for the cluster runs, if it is ours now.
   */
  public void leadershipChanged(String cluster, long term, boolean leading) {
    tellLeadership(cluster, term, leading);
    if (leading) {
      releaseHeld();
    }
  }

  /**
   * The first half of {@link #leadershipChanged}: every sink learns that leadership of {@code cluster}
   * moved, and its new term. A replica that starts leading calls this before it counts the cluster
   * as led, so that no change of the cluster is applied while a sink still knows the old term (an
   * HTTP sink would take a registration of an earlier term for its own), then {@link #releaseHeld}.
   */
  public void tellLeadership(String cluster, long term, boolean leading) {
    if (closed) {
      LOG.debug("leadership of cluster {} changed after shutdown (leading={}): sinks are closed, not told", cluster, leading);
      return;
    }
    for (SinkRunner r : runners.values()) {
      if (r.appliesOnEveryReplica()) {
        continue; // told once, at start, that it applies every cluster
      }
      try {
        r.sink().leadershipChanged(cluster, term, leading);
      } catch (RuntimeException e) {
        LOG.error("sink {} failed to take note of leadership of cluster {} (leading={} term={})", r.name(), cluster, leading, term, e);
      }
    }
  }

  /** The second half of {@link #leadershipChanged}: what was held back runs for the clusters led now. */
  public void releaseHeld() {
    if (closed) {
      return;
    }
    // Every sink's fresh changes first, then every sink's replays (sorted newest first, 10,000 take a while).
    List<Runnable> replays = new ArrayList<>();
    runners.values().forEach(r -> replays.add(r.releaseFreshFirst()));
    replays.forEach(Runnable::run);
  }

  /** Tells the sinks that apply on every replica that they lead {@code clusters}, once, in term 0. */
  public void everyReplicaLeads(java.util.Collection<String> clusters) {
    for (SinkRunner r : runners.values()) {
      if (r.appliesOnEveryReplica()) {
        for (String cluster : clusters) {
          try {
            r.sink().leadershipChanged(cluster, 0, true);
          } catch (RuntimeException e) {
            LOG.error("sink {} failed to take note of cluster {}", r.name(), cluster, e);
          }
        }
      }
    }
  }

  /** Every informer delivered its initial list: sinks that reconcile run a pass now. */
  public void podsSynced() {
    if (closed) {
      return;
    }
    for (SinkRunner r : runners.values()) {
      try {
        r.sink().podsSynced();
      } catch (RuntimeException e) {
        LOG.error("sink {} failed to take note of the initial list", r.name(), e);
      }
    }
  }

  /**
   * Forgets changes held back for another replica once they are older than {@code retention}: that
   * replica applied them long ago, and a takeover only needs to replay the recent ones. Counted and
   * logged per sink.
   */
  public void expireStandby(Duration retention) {
    for (SinkRunner r : runners.values()) {
      int n = r.queue().expireParked(retention.toNanos());
      if (n > 0) {
        metrics.queueDropped.labelValues(r.name(), "standby_expired").inc(n);
        LOG.info("standby: forgot {} held changes older than {}s: sink={} (the leader of their cluster applies them;"
            + " a takeover replays the last {}s)", n, retention.toSeconds(), r.name(), retention.toSeconds());
      }
    }
  }

  /** Drains every queue in parallel up to {@code deadline}, then stops workers and closes sinks. */
  public void shutdown(Duration deadline) {
    long end = System.nanoTime() + deadline.toNanos();
    runners.values().forEach(r -> r.queue().shutDown());
    for (SinkRunner r : runners.values()) {
      try {
        r.drain(Duration.ofNanos(Math.max(0, end - System.nanoTime())));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        LOG.warn("interrupted while draining sink {}", r.name());
      }
    }
    // Told nothing more from here: a Lease released after this is no news to a closed sink.
    closed = true;
    runners.values().forEach(SinkRunner::stop);
    timer.shutdownNow();
  }
}
