package io.k8ssync.daemon.metrics;

import io.k8ssync.sink.SinkMetrics;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;

/**
 * Every series the daemon exports, in one registry (not the global default, so tests and the demo
 * can run several daemons in one JVM). Names carry the {@code k8s_sync_} prefix; the alert rules
 * and the dashboard use these names.
 */
public final class DaemonMetrics {

  public static final String PREFIX = "k8s_sync_";

  private final PrometheusRegistry registry;

  public final Counter informerEvents;
  public final Counter changes;
  public final Counter podsRejected;
  public final Counter queueDropped;
  public final Counter podValuesDropped;
  public final Counter relistRemovals;
  public final Counter sinkApplied;
  public final Counter sinkFailures;
  public final Counter sinkRetries;
  public final Counter sinkDeferred;
  public final Histogram applySeconds;
  public final Histogram readyToAppliedSeconds;
  public final Gauge lastSuccess;
  public final Gauge buildInfo;
  public final Gauge leader;
  public final Counter leaderTransitions;

  private final Map<String, SinkMetrics> sinkMetrics = new ConcurrentHashMap<>();
  /** Series defined by sinks, shared by all sinks of one type. */
  private final Map<String, Object> sinkSeries = new ConcurrentHashMap<>();

  public DaemonMetrics(PrometheusRegistry registry) {
    this.registry = registry;
    informerEvents = Counter.builder().name(PREFIX + "informer_events_total")
        .help("Pod events received from the API server, by cluster and type (ADD, UPDATE, DELETE)")
        .labelNames("cluster", "type").register(registry);
    changes = Counter.builder().name(PREFIX + "pod_changes_total")
        .help("Pod changes emitted by the cache, by transition")
        .labelNames("transition").register(registry);
    podsRejected = Counter.builder().name(PREFIX + "pods_rejected_total")
        .help("Pods whose labels or annotations failed validation and are registered nowhere, by field")
        .labelNames("cluster", "reason").register(registry);
    podValuesDropped = Counter.builder().name(PREFIX + "pod_values_dropped_total")
        .help("Invalid informational pod values left out of a pod's state (the pod is kept), by cluster and field")
        .labelNames("cluster", "field").register(registry);
    relistRemovals = Counter.builder().name(PREFIX + "relist_removals_total")
        .help("Pod removals of a relist that would remove most pods: held, then confirmed (removed) or kept, by cluster")
        .labelNames("cluster", "outcome").register(registry);
    queueDropped = Counter.builder().name(PREFIX + "queue_dropped_total")
        .help("Changes a sink queue could not take or let go unapplied, by sink and reason (full, shutdown, fatal, standby_expired)")
        .labelNames("sink", "reason").register(registry);
    sinkApplied = Counter.builder().name(PREFIX + "sink_applied_total")
        .help("Pod changes a sink applied successfully")
        .labelNames("sink").register(registry);
    sinkFailures = Counter.builder().name(PREFIX + "sink_failures_total")
        .help("Pod changes a sink failed to apply, by kind (retriable, fatal)")
        .labelNames("sink", "kind").register(registry);
    sinkRetries = Counter.builder().name(PREFIX + "sink_retries_total")
        .help("Pod changes scheduled for another attempt after a failure")
        .labelNames("sink").register(registry);
    sinkDeferred = Counter.builder().name(PREFIX + "sink_deferred_total")
        .help("Pod changes a sink asked to hold for a while (e.g. a warm-up), by sink")
        .labelNames("sink").register(registry);
    applySeconds = Histogram.builder().name(PREFIX + "sink_apply_seconds")
        .help("Time one apply call (one batch) of a sink took")
        .unit(Unit.SECONDS)
        .classicUpperBounds(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
        .classicOnly() // the buckets above are the series; a native histogram too cost a map lookup per observation
        .labelNames("sink").register(registry);
    readyToAppliedSeconds = Histogram.builder().name(PREFIX + "ready_to_applied_seconds")
        .help("From the Ready condition turning true (or the daemon seeing it) to a sink applying the pod")
        .unit(Unit.SECONDS)
        .classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
        .classicOnly() // the buckets above are the series; a native histogram too cost a map lookup per observation
        .labelNames("sink").register(registry);
    lastSuccess = Gauge.builder().name(PREFIX + "sink_last_success_timestamp_seconds")
        .help("Unix time of the last successful apply of a sink")
        .labelNames("sink").register(registry);
    leader = Gauge.builder().name(PREFIX + "leader")
        .help("1 while this instance applies the changes of the cluster to the sinks; without leader election every running instance does")
        .labelNames("cluster").register(registry);
    leaderTransitions = Counter.builder().name(PREFIX + "leader_transitions_total")
        .help("Times this instance became leader or standby of a cluster, by role it took")
        .labelNames("cluster", "role").register(registry);
    buildInfo = Gauge.builder().name(PREFIX + "build_info")
        .help("Always 1; the version label says what runs")
        .labelNames("version").register(registry);
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  /** A gauge read at scrape time, one series per key of {@code source}. */
  public <T> void gaugePerKey(String name, String help, String label, Map<String, T> source, ToDoubleFunction<T> value) {
    GaugeWithCallback.builder().name(PREFIX + name).help(help).labelNames(label)
        .callback(cb -> source.forEach((k, v) -> cb.call(value.applyAsDouble(v), k)))
        .register(registry);
  }

  /** A gauge without labels read at scrape time. */
  public void gauge(String name, String help, java.util.function.DoubleSupplier value) {
    GaugeWithCallback.builder().name(PREFIX + name).help(help)
        .callback(cb -> cb.call(value.getAsDouble()))
        .register(registry);
  }

  /** Metrics a sink defines for itself; the series get a {@code sink} label. */
  public SinkMetrics forSink(String sink) {
    return sinkMetrics.computeIfAbsent(sink, s -> new PrometheusSinkMetrics(registry, sinkSeries, s));
  }

  static void checkName(String name, Consumer<String> fail) {
    if (!name.matches("[a-z][a-z0-9_]*")) {
      fail.accept("metric name must be lowercase snake_case: " + name);
    }
  }
}
