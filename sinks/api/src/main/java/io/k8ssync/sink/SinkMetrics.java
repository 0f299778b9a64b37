package io.k8ssync.sink;

/**
 * Metrics a sink registers for itself, without depending on a metrics library. Every series gets
 * the prefix {@code k8s_sync_} and a {@code sink} label with the sink's name.
 */
public interface SinkMetrics {

  Counter counter(String name, String help, String... labelNames);

  Gauge gauge(String name, String help, String... labelNames);

  Histogram histogram(String name, String help, String... labelNames);

  interface Counter {
    /** Adds {@code amount} (not negative), e.g. the rows one statement wrote. */
    void inc(long amount, String... labelValues);

    default void inc(String... labelValues) {
      inc(1, labelValues);
    }
  }

  interface Gauge {
    void set(double value, String... labelValues);
  }

  interface Histogram {
    void observeSeconds(double seconds, String... labelValues);
  }
}
