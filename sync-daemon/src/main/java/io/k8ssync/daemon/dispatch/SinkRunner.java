package io.k8ssync.daemon.dispatch;

import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds one sink from its own {@link WorkQueue} with its own worker threads, so a slow or failing
 * sink never delays another sink or the informers. Failures are retried with {@link RetryBackoff};
 * every retry, drop and fatal failure moves a metric and writes a log line.
 */
public final class SinkRunner {

  private static final Logger LOG = LoggerFactory.getLogger(SinkRunner.class);

  /**
   * Per-sink dispatch settings. {@code queueCapacity} 0 means the default of the sink's kind of
   * queue ({@link QueueBudget}), a queue that keeps every change filling at most {@code queueHeapBytes}.
   */
  public record Settings(int workers, int queueCapacity, int failingThreshold, boolean dryRun,
                         RetryBackoff.Settings retry, long queueHeapBytes) {
    /** A fixed capacity. */
    public Settings(int workers, int queueCapacity, int failingThreshold, boolean dryRun, RetryBackoff.Settings retry) {
      this(workers, queueCapacity, failingThreshold, dryRun, retry, 0);
    }
  }

  private final String name;
  private final Sink sink;
  private final Selector selector;
  private final Settings settings;
  private final int capacity;
  private final WorkQueue queue;
  private final RetryBackoff backoff;
  private final ScheduledExecutorService timer;
  private final DaemonMetrics metrics;
  /** This sink's series of the per-apply metrics, looked up once rather than by label per apply. */
  private final SinkSeries series;
  private final List<Thread> workers = new ArrayList<>();
  private final AtomicInteger consecutiveFailures = new AtomicInteger();
  private final AtomicLong applied = new AtomicLong();
  private volatile boolean running;
  /** The clusters whose changes this replica applies: all, unless leader election says otherwise. */
  private volatile Predicate<String> leads = cluster -> true;
  private volatile boolean everyReplica;
  /** Held changes this recent at a takeover are written first ({@link WorkQueue#releaseParked(Predicate, long)}); 0: off. */
  private volatile long freshNanos;
  private volatile io.k8ssync.sink.Progress progress = io.k8ssync.sink.Progress.NONE;
  /** True when the sink reports its pods' progress itself; else this runner reports what apply did. */
  private volatile boolean sinkReports;
  /** nanoTime this replica last started leading a cluster, until the first apply after it logged how long it took; else 0. */
  private final AtomicLong leadingSince = new AtomicLong();

  public SinkRunner(String name, Sink sink, Selector selector, Settings settings,
                    ScheduledExecutorService timer, DaemonMetrics metrics) {
    this.name = name;
    this.sink = sink;
    this.selector = selector;
    this.settings = settings;
    boolean coalesce = sink.coalesce();
    this.capacity = settings.queueCapacity() > 0 ? settings.queueCapacity()
        : QueueBudget.defaultCapacity(coalesce, settings.queueHeapBytes());
    this.queue = new WorkQueue(capacity, System::nanoTime, coalesce, pod -> Registration.desiredOnline(pod, selector));
    LOG.info("sink queue: sink={} capacity={} {} ({}) costing up to {} MiB, as much again for changes held for another replica",
        name, capacity, coalesce ? "pods (a pod's changes merge)" : "changes (every change kept)",
        settings.queueCapacity() > 0 ? "configured" : "default", QueueBudget.bytes(coalesce, capacity) >> 20);
    this.backoff = new RetryBackoff(settings.retry(), Math::random, System::nanoTime);
    this.timer = timer;
    this.metrics = metrics;
    this.series = new SinkSeries(metrics, name);
  }

  public String name() {
    return name;
  }

  public WorkQueue queue() {
    return queue;
  }

  /** How many changes (pods, when they merge) the queue takes for this replica to apply; as many again held for another. */
  public int capacity() {
    return capacity;
  }

  /** Applied changes so far (for the demo's summary and tests). */
  public long applied() {
    return applied.get();
  }

  /** The sink this runner feeds. */
  public Sink sink() {
    return sink;
  }

  /** True while the sink has failed at least {@code failingThreshold} times in a row. */
  public boolean failing() {
    return consecutiveFailures.get() >= settings.failingThreshold();
  }

  public int consecutiveFailures() {
    return consecutiveFailures.get();
  }

  /** Pods whose failures the backoff remembers (for tests of its bound). */
  int backoffTracked() {
    return backoff.tracked();
  }

  /**
   * From now on applies only changes of the clusters {@code leads} accepts; changes of other
   * clusters queue up (parked, in order) until {@link #leadershipChanged} finds their cluster led.
   */
  public void leadWhere(Predicate<String> leads) {
    if (!everyReplica) {
      this.leads = leads;
    }
  }

  /** This sink writes local state: it applies every cluster's changes on every replica, whoever leads. */
  public void applyOnEveryReplica() {
    everyReplica = true;
    leads = cluster -> true;
  }

  public boolean appliesOnEveryReplica() {
    return everyReplica;
  }

  /**
   * Where the pods' progress goes: failures are reported here, and, unless {@code sinkReports}
   * (a sink that routes traffic knows better when a pod is really online), what each apply did.
   */
  public void reportTo(io.k8ssync.sink.Progress progress, boolean sinkReports) {
    this.progress = progress;
    this.sinkReports = sinkReports;
  }

  /**
   * At a takeover, held changes that came within {@code window} before it are written first, in
   * batches of their own, and the replays of older ones wait until they are: the old leader most
   * likely applied those, and never these.
   */
  public void replayFreshFirst(Duration window) {
    this.freshNanos = window.toNanos();
    queue.holdFreshFor(freshNanos);
  }

  /** {@code cluster}'s initial list is in: only what comes after it can be fresh at a takeover. */
  public void initialListDone(String cluster) {
    queue.initialListDone(cluster);
  }

  /** Leadership moved: parked changes of clusters led now run. No apply of a cluster no longer led starts after this. */
  public void leadershipChanged() {
    releaseFreshFirst().run();
  }

  /**
   * {@link #leadershipChanged} in two steps: the fresh held changes run when this returns, the
   * replays once the step returned has run (it sorts them), so a dispatcher lets every sink start
   * on its fresh changes before any sorts its replays.
   */
  public Runnable releaseFreshFirst() {
    leadingSince.set(System.nanoTime());
    return queue.releaseFreshFirst(leads, freshNanos);
  }

  public void start() {
    running = true;
    for (int i = 0; i < settings.workers(); i++) {
      Thread t = new Thread(this::work, "sink-" + name + "-" + i);
      t.setDaemon(true);
      workers.add(t);
      t.start();
    }
  }

  /** Queues a change unless neither state concerns this sink's selector. Never blocks. */
  public void offer(PodChange change) {
    if (!concerns(change)) {
      return;
    }
    WorkQueue.Outcome outcome = queue.add(change, !leads.test(change.latest().cluster()));
    if (outcome == WorkQueue.Outcome.FULL_HELD) {
      metrics.queueDropped.labelValues(name, "standby_full").inc();
      LOG.warn("change dropped: sink={} pod={} transition={} reason=standby_full queueCapacity={}: held for the leader of cluster {},"
          + " which applies it; a takeover now will not replay it", name, change.key(), change.transition(), capacity,
          change.latest().cluster());
    } else if (outcome == WorkQueue.Outcome.FULL || outcome == WorkQueue.Outcome.SHUT_DOWN) {
      String reason = outcome == WorkQueue.Outcome.FULL ? "full" : "shutdown";
      metrics.queueDropped.labelValues(name, reason).inc();
      LOG.error("change dropped: sink={} pod={} transition={} reason={} queueCapacity={}; a sink with a reconcile repairs it on its next pass, others lose it",
          name, change.key(), change.transition(), reason, capacity);
    }
  }

  private boolean concerns(PodChange change) {
    return (change.before() != null && selector.matches(change.before()))
        || (change.after() != null && selector.matches(change.after()));
  }

  private void work() {
    int max = Math.max(1, sink.maxBatchSize());
    // Items applied by the last batch: handed back to the queue with the next take, under one lock.
    List<WorkQueue.Item> finished = List.of();
    try {
      while (running) {
        List<WorkQueue.Item> handBack = finished;
        finished = List.of(); // handed back by take, first thing under its lock, even if the wait is interrupted
        List<WorkQueue.Item> batch;
        try {
          batch = queue.take(handBack, max, 200, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
        if (!batch.isEmpty()) {
          finished = process(batch);
        }
      }
    } finally {
      queue.done(finished); // stopped right after a batch (or a sink bug escaped): never leave a pod in flight
    }
  }

  /** Applies {@code taken}; returns the items applied, for the caller to mark done. */
  private List<WorkQueue.Item> process(List<WorkQueue.Item> taken) {
    List<WorkQueue.Item> batch = taken;
    for (int i = 0; i < taken.size(); i++) {
      WorkQueue.Item item = taken.get(i);
      String cluster = item.change().latest().cluster();
      if (leads.test(cluster)) {
        if (batch != taken) {
          batch.add(item);
        }
        continue;
      }
      if (batch == taken) {
        batch = new ArrayList<>(taken.subList(0, i)); // the first item held back: copy those led so far
      }
      // Another replica leads this cluster: hold the change back, untouched and in order. Its
      // failures are that replica's to count now; if the cluster comes back, it starts afresh.
      backoff.forget(item.key());
      int dropped = queue.park(item, cluster);
      if (dropped > 0) {
        metrics.queueDropped.labelValues(name, "left_to_leader").inc(dropped);
        LOG.info("shutdown: sink={} pod={} leaves its change to the leader of cluster {}", name, item.key(), cluster);
      } else if (leads.test(cluster)) {
        queue.releaseParked(leads, freshNanos); // leadership came while parking
      }
    }
    if (batch.isEmpty()) {
      return List.of();
    }
    List<PodChange> changes;
    if (batch.size() == 1) {
      changes = batch.get(0).changes();
    } else {
      changes = new ArrayList<>(batch.size());
      for (WorkQueue.Item item : batch) {
        changes.addAll(item.changes());
      }
    }
    long t0 = System.nanoTime();
    try {
      if (settings.dryRun()) {
        for (String action : sink.plan(changes)) {
          LOG.info("dry-run: sink={} would {}", name, action);
        }
      } else {
        sink.apply(changes);
      }
      firstApplyOfTerm(changes.size(), t0);
      succeeded(batch, t0);
      return batch;
    } catch (SinkException e) {
      if (e.deferral() != null) {
        deferred(batch, e, t0);
        return List.of();
      }
      failed(batch, e.failedKeys(), e.retriable(), e, t0);
    } catch (VirtualMachineError e) {
      // Out of memory and the like: let the JVM fail fast (the container or unit restarts it).
      throw e;
    } catch (RuntimeException | LinkageError | AssertionError e) {
      // A bug in a sink must neither lose the desired state nor kill this worker: retry, loudly.
      LOG.error("sink threw unexpectedly, will retry: sink={} batch={}", name, batch.size(), e);
      failed(batch, Set.of(), true, e instanceof Exception ex ? ex : new IllegalStateException(e), t0);
    }
    return List.of();
  }

  /**
   * The first apply that succeeded after this replica started leading: when it started and how long it
   * took, from the moment leadership came (a takeover's first write, issue 19).
   */
  private void firstApplyOfTerm(int changes, long t0) {
    long since = leadingSince.get();
    if (since != 0 && leadingSince.compareAndSet(since, 0)) {
      long now = System.nanoTime();
      LOG.info("first apply since leading: sink={} changes={} startedAfterMs={} tookMs={} doneAfterMs={}", name, changes,
          (t0 - since) / 1_000_000, (now - t0) / 1_000_000, (now - since) / 1_000_000);
    }
  }

  /** Counts and reports {@code batch} as applied; the caller marks its items done in the queue. */
  private void succeeded(List<WorkQueue.Item> batch, long t0) {
    long now = System.nanoTime();
    series.applySeconds().observe((now - t0) / 1e9);
    series.applied().inc(batch.size());
    series.lastSuccess().set(System.currentTimeMillis() / 1000.0);
    consecutiveFailures.set(0);
    for (WorkQueue.Item item : batch) {
      backoff.forget(item.key());
      PodChange c = item.change();
      // Asked once per change: desiredOnline renders the address, a string, each time it is asked.
      boolean afterOnline = Registration.desiredOnline(c.after());
      if (afterOnline && !Registration.desiredOnline(c.before())) {
        series.readyToApplied().observe((now - item.since()) / 1e9);
      }
      if (!sinkReports && !settings.dryRun()) {
        if (afterOnline && selector.matches(c.after())) { // Registration.desiredOnline(after, selector)
          progress.online(c.after());
        } else {
          progress.offline(c.latest());
        }
      }
    }
    applied.addAndGet(batch.size());
  }

  private void failed(List<WorkQueue.Item> batch, Set<String> failedKeys, boolean retriable, Exception e, long t0) {
    series.applySeconds().observe((System.nanoTime() - t0) / 1e9);
    int failures = consecutiveFailures.incrementAndGet();
    List<WorkQueue.Item> ok = new ArrayList<>();
    for (WorkQueue.Item item : batch) {
      if (!failedKeys.isEmpty() && !failedKeys.contains(item.key())) {
        ok.add(item);
        continue;
      }
      if (retriable) {
        Duration delay = backoff.next(item.key());
        metrics.sinkFailures.labelValues(name, "retriable").inc();
        metrics.sinkRetries.labelValues(name).inc();
        LOG.warn("apply failed, retrying: sink={} pod={} transition={} attempt={} retryInMs={} error={}",
            name, item.key(), item.change().transition(), backoff.failures(item.key()), delay.toMillis(), describe(e));
        progress.failing(item.change().latest(), describe(e));
        queue.retry(item);
        releaseAfter(item, delay);
      } else {
        metrics.sinkFailures.labelValues(name, "fatal").inc();
        metrics.queueDropped.labelValues(name, "fatal").inc();
        LOG.error("apply failed permanently, change dropped: sink={} pod={} transition={} error={}",
            name, item.key(), item.change().transition(), describe(e));
        progress.failing(item.change().latest(), "dropped: " + describe(e));
        backoff.forget(item.key());
        queue.done(item);
      }
    }
    if (!ok.isEmpty()) {
      succeeded(ok, t0);
      queue.done(ok);
      consecutiveFailures.set(failures);
    }
  }

  private void deferred(List<WorkQueue.Item> batch, SinkException e, long t0) {
    List<WorkQueue.Item> done = new ArrayList<>();
    for (WorkQueue.Item item : batch) {
      if (!e.failedKeys().isEmpty() && !e.failedKeys().contains(item.key())) {
        done.add(item);
        continue;
      }
      metrics.sinkDeferred.labelValues(name).inc();
      LOG.info("change held: sink={} pod={} transition={} forMs={} reason={}",
          name, item.key(), item.change().transition(), e.deferral().toMillis(), e.getMessage());
      queue.retry(item);
      releaseAfter(item, e.deferral());
    }
    if (!done.isEmpty()) {
      succeeded(done, t0);
      queue.done(done);
    }
  }

  /**
   * Lets {@code item}'s key run again after {@code delay}. The timer stops only after every queue
   * drained or its deadline passed: an apply that outlived the deadline then leaves its change
   * where it is, already counted as {@code queue_dropped_total{reason="shutdown"}} by {@link #drain}.
   */
  private void releaseAfter(WorkQueue.Item item, Duration delay) {
    try {
      timer.schedule(() -> queue.release(item.key()), delay.toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      LOG.warn("retry not scheduled, the daemon is stopping: sink={} pod={} transition={} (a change left at shutdown)",
          name, item.key(), item.change().transition());
    }
  }

  private static String describe(Throwable e) {
    String msg = e.getMessage();
    Throwable cause = e.getCause();
    return e.getClass().getSimpleName() + ": " + msg + (cause != null && cause != e ? " (cause: " + cause + ")" : "");
  }

  /** Stops taking new changes and waits until the queue is empty or {@code deadline} passes. */
  public boolean drain(Duration deadline) throws InterruptedException {
    queue.shutDown();
    int discarded = queue.discardParked();
    if (discarded > 0) {
      metrics.queueDropped.labelValues(name, "left_to_leader").inc(discarded);
      LOG.info("shutdown: sink={} leaves {} changes of clusters led by another replica to it", name, discarded);
    }
    boolean idle = queue.awaitIdle(deadline.toMillis(), TimeUnit.MILLISECONDS);
    if (!idle) {
      int left = queue.unfinished();
      metrics.queueDropped.labelValues(name, "shutdown").inc(left);
      LOG.error("shutdown deadline passed with changes not applied: sink={} left={}", name, left);
    }
    return idle;
  }

  /** Stops the workers and closes the sink. Call after {@link #drain}. */
  public void stop() {
    running = false;
    for (Thread t : workers) {
      t.interrupt();
    }
    for (Thread t : workers) {
      try {
        t.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      sink.close();
    } catch (RuntimeException e) {
      LOG.warn("sink close failed: sink={}", name, e);
    }
  }
}
