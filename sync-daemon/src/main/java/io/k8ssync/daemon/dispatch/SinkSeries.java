package io.k8ssync.daemon.dispatch;

import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;

/**
 * One sink's series of the metrics every apply moves, each looked up by its label once, on first
 * use (so a series still appears only once it has a value). A label lookup builds a key list and
 * hashes it, which cost more per apply than the no-op apply itself (issue 19's profile).
 */
final class SinkSeries {

  private final DaemonMetrics metrics;
  private final String sink;
  private volatile CounterDataPoint applied;
  private volatile DistributionDataPoint applySeconds;
  private volatile DistributionDataPoint readyToApplied;
  private volatile GaugeDataPoint lastSuccess;

  SinkSeries(DaemonMetrics metrics, String sink) {
    this.metrics = metrics;
    this.sink = sink;
  }

  // A race on first use looks the series up twice; the registry hands out the same one both times.

  CounterDataPoint applied() {
    CounterDataPoint p = applied;
    if (p == null) {
      applied = p = metrics.sinkApplied.labelValues(sink);
    }
    return p;
  }

  DistributionDataPoint applySeconds() {
    DistributionDataPoint p = applySeconds;
    if (p == null) {
      applySeconds = p = metrics.applySeconds.labelValues(sink);
    }
    return p;
  }

  DistributionDataPoint readyToApplied() {
    DistributionDataPoint p = readyToApplied;
    if (p == null) {
      readyToApplied = p = metrics.readyToAppliedSeconds.labelValues(sink);
    }
    return p;
  }

  GaugeDataPoint lastSuccess() {
    GaugeDataPoint p = lastSuccess;
    if (p == null) {
      lastSuccess = p = metrics.lastSuccess.labelValues(sink);
    }
    return p;
  }
}
