package io.k8ssync.daemon.testing;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.ConfigDef;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A sink for tests, found through ServiceLoader like any other: it records what it is given, and
 * can be told to fail or to block. Sinks are looked up by name through {@link #get}.
 */
public final class RecordingSinkFactory implements SinkFactory {

  private static final Map<String, Recording> SINKS = new ConcurrentHashMap<>();

  static final ConfigDef CONFIG = new ConfigDef()
      .define("batch", ConfigDef.Type.INT, 1, "max batch size");

  /**
   * One thing the daemon told a sink, with when: {@code leadershipChanged(cluster,term,leading)},
   * {@code podsSynced()}, or {@code applied <pod key>} once an apply call returned.
   */
  public record Told(String what, java.time.Instant at) {}

  /** What a recording sink saw, and knobs to make it misbehave. */
  public static final class Recording implements Sink {
    public final List<PodChange> applied = new CopyOnWriteArrayList<>();
    /** The keys of each apply call that returned, in order. */
    public final List<List<String>> batches = new CopyOnWriteArrayList<>();
    /** Everything the daemon told this sink, in order. */
    public final List<Told> told = new CopyOnWriteArrayList<>();
    public final AtomicInteger attempts = new AtomicInteger();
    /** Fail this many more apply calls with a retriable error. */
    public final AtomicInteger failNext = new AtomicInteger();
    /** Throw this many more JVM errors (as a sink with a broken class path would). */
    public final AtomicInteger errorNext = new AtomicInteger();
    /** Fail every apply call with a fatal error while set. */
    public volatile boolean fatal;
    /** While not null, apply blocks until a permit is released. */
    public volatile Semaphore gate;
    private final int batch;
    private final SinkContext context;
    public volatile boolean closed;
    /** At each apply: whether the context said this replica leads the pod's cluster. */
    public final List<Boolean> ledAtApply = new CopyOnWriteArrayList<>();
    /** When set, {@code leadershipChanged(…, true)} counts {@link #inLeading} down and returns only once this is. */
    public volatile java.util.concurrent.CountDownLatch holdLeading;
    public final java.util.concurrent.CountDownLatch inLeading = new java.util.concurrent.CountDownLatch(1);

    Recording(int batch) {
      this(batch, null);
    }

    Recording(int batch, SinkContext context) {
      this.batch = batch;
      this.context = context;
    }

    @Override
    public void apply(List<PodChange> changes) throws SinkException {
      attempts.incrementAndGet();
      Semaphore g = gate;
      if (g != null) {
        g.acquireUninterruptibly();
      }
      if (errorNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw new NoClassDefFoundError("io/example/Missing");
      }
      if (fatal) {
        throw SinkException.fatal("told to fail for good", null);
      }
      if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw SinkException.retriable("told to fail", new java.io.IOException("connection refused"));
      }
      applied.addAll(changes);
      batches.add(changes.stream().map(PodChange::key).toList());
      if (context != null) {
        changes.forEach(c -> ledAtApply.add(context.leads(c.latest().cluster())));
      }
      java.time.Instant now = java.time.Instant.now();
      changes.forEach(c -> told.add(new Told("applied " + c.key(), now)));
    }

    @Override
    public void leadershipChanged(String cluster, long term, boolean leading) {
      java.util.concurrent.CountDownLatch hold = holdLeading;
      if (leading && hold != null) {
        inLeading.countDown();
        try {
          hold.await(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      told.add(new Told("leadershipChanged(" + cluster + "," + term + "," + leading + ")", java.time.Instant.now()));
    }

    @Override
    public void podsSynced() {
      told.add(new Told("podsSynced()", java.time.Instant.now()));
    }

    /** The context the daemon gave this sink (null when built outside the factory). */
    public SinkContext context() {
      return context;
    }

    /** What was told, without the times. */
    public List<String> toldWhat() {
      return told.stream().map(Told::what).toList();
    }

    @Override
    public int maxBatchSize() {
      return batch;
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  public static Recording get(String name) {
    return SINKS.get(name);
  }

  @Override
  public String type() {
    return "recording";
  }

  @Override
  public ConfigDef configDef() {
    return CONFIG;
  }

  @Override
  public Sink create(SinkContext context) {
    return register(context, new Recording(context.config().getInt("batch"), context));
  }

  static Recording register(SinkContext context, Recording r) {
    SINKS.put(context.name(), r);
    return r;
  }
}
