package io.k8ssync.benchmarks;

import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.PodStateView;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Clock;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The SinkContext a benchmark gives a sink: its config parsed by the sink's own ConfigDef, cluster "bench". */
final class BenchContext implements SinkContext {

  private final String name;
  private final Config config;
  private final PodStateView pods;
  private final boolean dryRun;
  private final DaemonMetrics metrics = new DaemonMetrics(new PrometheusRegistry());

  BenchContext(String name, SinkFactory factory, Map<String, Object> config, PodStateView pods, boolean dryRun)
      throws ConfigException {
    this.name = name;
    this.config = factory.configDef().parse("bench", config, ConfigDef.SecretReader.DEFAULT);
    this.pods = pods != null ? pods : EMPTY;
    this.dryRun = dryRun;
  }

  static final PodStateView EMPTY = new PodStateView() {
    @Override public boolean synced() { return true; }
    @Override public Collection<PodState> pods() { return List.of(); }
    @Override public Collection<PodState> podsOfService(String service) { return List.of(); }
  };

  DaemonMetrics daemonMetrics() {
    return metrics;
  }

  @Override public String name() { return name; }
  @Override public Config config() { return config; }
  @Override public Selector selector() { return Selector.ALL; }
  @Override public boolean dryRun() { return dryRun; }
  @Override public SinkMetrics metrics() { return metrics.forSink(name); }
  @Override public PodStateView pods() { return pods; }
  @Override public Clock clock() { return Clock.systemUTC(); }
  @Override public Set<String> clusters() { return Set.of("bench"); }
}
