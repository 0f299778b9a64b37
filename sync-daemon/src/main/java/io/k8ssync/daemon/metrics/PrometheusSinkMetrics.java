package io.k8ssync.daemon.metrics;

import io.k8ssync.sink.SinkMetrics;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Map;

/**
 * {@link SinkMetrics} on the Prometheus client. Two sinks of one type define the same series, so a
 * metric is registered once per name and shared, each sink writing under its own {@code sink} label.
 */
final class PrometheusSinkMetrics implements SinkMetrics {

  private final PrometheusRegistry registry;
  private final Map<String, Object> shared;
  private final String sink;

  PrometheusSinkMetrics(PrometheusRegistry registry, Map<String, Object> shared, String sink) {
    this.registry = registry;
    this.shared = shared;
    this.sink = sink;
  }

  @Override
  public Counter counter(String name, String help, String... labelNames) {
    io.prometheus.metrics.core.metrics.Counter c = shared(name, () -> io.prometheus.metrics.core.metrics.Counter.builder()
        .name(DaemonMetrics.PREFIX + name).help(help).labelNames(withSink(labelNames)).register(registry));
    return (amount, values) -> c.labelValues(withSink(sink, values)).inc(amount);
  }

  @Override
  public Gauge gauge(String name, String help, String... labelNames) {
    io.prometheus.metrics.core.metrics.Gauge g = shared(name, () -> io.prometheus.metrics.core.metrics.Gauge.builder()
        .name(DaemonMetrics.PREFIX + name).help(help).labelNames(withSink(labelNames)).register(registry));
    return (value, values) -> g.labelValues(withSink(sink, values)).set(value);
  }

  @Override
  public Histogram histogram(String name, String help, String... labelNames) {
    io.prometheus.metrics.core.metrics.Histogram h = shared(name, () -> io.prometheus.metrics.core.metrics.Histogram.builder()
        .name(DaemonMetrics.PREFIX + name).help(help).labelNames(withSink(labelNames))
        .classicUpperBounds(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
        .register(registry));
    return (seconds, values) -> h.labelValues(withSink(sink, values)).observe(seconds);
  }

  @SuppressWarnings("unchecked")
  private <T> T shared(String name, java.util.function.Supplier<T> create) {
    DaemonMetrics.checkName(name, msg -> {
      throw new IllegalArgumentException(msg);
    });
    return (T) shared.computeIfAbsent(name, n -> create.get());
  }

  private static String[] withSink(String[] labelNames) {
    return prepend("sink", labelNames);
  }

  private static String[] withSink(String sink, String[] values) {
    return prepend(sink, values);
  }

  private static String[] prepend(String first, String[] rest) {
    String[] out = new String[rest.length + 1];
    out[0] = first;
    System.arraycopy(rest, 0, out, 1, rest.length);
    return out;
  }
}
