package io.k8ssync.sink;

import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import java.time.Clock;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * A SinkContext for testing a sink without the daemon: config parsed by the sink's own ConfigDef,
 * metrics kept in a map ({@code name{labels}} → value), pods from a settable list.
 */
public final class TestSinkContext implements SinkContext {

  private final String name;
  private final Config config;
  private final Selector selector;
  public volatile boolean synced = true;
  public final List<PodState> pods = new CopyOnWriteArrayList<>();
  public final Map<String, DoubleAdder> metrics = new ConcurrentHashMap<>();

  public TestSinkContext(String name, ConfigDef def, Map<String, Object> config, Selector selector) throws ConfigException {
    this.name = name;
    this.config = def.parse("sinks[0].config", config, ConfigDef.SecretReader.DEFAULT);
    this.selector = selector;
  }

  /** The value of a series, e.g. {@code metric("http_calls_total", "online", "ok")}; 0 if never set. */
  public double metric(String series, String... labelValues) {
    DoubleAdder a = metrics.get(series + List.of(labelValues));
    return a == null ? 0 : a.sum();
  }

  @Override public String name() { return name; }
  @Override public Config config() { return config; }
  @Override public Selector selector() { return selector; }
  public volatile boolean dryRun;

  @Override public boolean dryRun() { return dryRun; }
  @Override public Clock clock() { return Clock.systemUTC(); }

  /** The leadership term of every cluster (see {@link SinkContext#leadershipTerm}). */
  public volatile long term;

  @Override
  public long leadershipTerm(String cluster) {
    return term;
  }

  /** The clusters this replica leads: "c1", the cluster of {@code PodStates}, unless a test changes it. */
  public final java.util.Set<String> led = ConcurrentHashMap.newKeySet();

  {
    led.add("c1");
  }

  /** What {@link #writeBudget} answers for a led cluster; a test shortens it to play an overdue renewal. */
  public volatile java.time.Duration budget = FOREVER;

  @Override
  public java.util.Set<String> clusters() {
    return java.util.Set.copyOf(led);
  }

  @Override
  public boolean leads(String cluster) {
    return !writeBudget(cluster).isZero();
  }

  @Override
  public java.time.Duration writeBudget(String cluster) {
    return led.contains(cluster) ? budget : java.time.Duration.ZERO;
  }

  /** Keys of pods whose current state a test says is on its way to the sink (see {@link SinkContext#changePending}). */
  public final java.util.Set<String> pending = ConcurrentHashMap.newKeySet();

  @Override
  public boolean changePending(PodState state) {
    return pending.contains(state.key());
  }

  @Override
  public PodStateView pods() {
    return new PodStateView() {
      @Override public boolean synced() { return synced; }
      @Override public Collection<PodState> pods() { return List.copyOf(pods); }
      @Override public Collection<PodState> podsOfService(String service) {
        return pods.stream().filter(p -> service.equals(p.service())).toList();
      }
    };
  }

  @Override
  public SinkMetrics metrics() {
    return new SinkMetrics() {
      @Override
      public Counter counter(String n, String help, String... labelNames) {
        return (amount, values) -> add(n, values, amount);
      }

      @Override
      public Gauge gauge(String n, String help, String... labelNames) {
        return (v, values) -> metrics.put(n + List.of(values), adder(v));
      }

      @Override
      public Histogram histogram(String n, String help, String... labelNames) {
        return (seconds, values) -> add(n + "_count", values, 1);
      }
    };
  }

  private void add(String series, String[] values, double by) {
    metrics.computeIfAbsent(series + List.of(values), k -> new DoubleAdder()).add(by);
  }

  private static DoubleAdder adder(double v) {
    DoubleAdder a = new DoubleAdder();
    a.add(v);
    return a;
  }
}
