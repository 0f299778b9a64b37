package io.k8ssync.sink.nginx;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.PodStateView;
import io.k8ssync.sink.Progress;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigException;
import io.k8ssync.sink.testbed.Nginx;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/** A sink context for the nginx sink against a test's own nginx, recording what the sink reports per pod. */
final class NginxContext implements SinkContext {

  final TestSinkContext base;
  /** "online web-1", "draining web-1", "offline web-1", "failing web-1: why", in order. */
  final List<String> reported = new CopyOnWriteArrayList<>();

  NginxContext(Nginx nginx, Map<String, Object> overrides) throws ConfigException {
    Map<String, Object> config = nginx.sinkConfig();
    config.putAll(overrides);
    base = new TestSinkContext("nginx-test", NginxSinkFactory.CONFIG, config, Selector.ALL);
  }

  NginxSink sink() {
    return (NginxSink) new NginxSinkFactory().create(this);
  }

  double metric(String series, String... labels) {
    return base.metric(series, labels);
  }

  boolean saw(String report) {
    return reported.contains(report);
  }

  @Override public String name() { return base.name(); }
  @Override public Config config() { return base.config(); }
  @Override public Selector selector() { return base.selector(); }
  @Override public boolean dryRun() { return false; }
  @Override public SinkMetrics metrics() { return base.metrics(); }
  @Override public PodStateView pods() { return base.pods(); }
  @Override public Clock clock() { return Clock.systemUTC(); }

  @Override
  public Progress progress() {
    return new Progress() {
      @Override public void online(PodState pod) { reported.add("online " + pod.name()); }
      @Override public void draining(PodState pod) { reported.add("draining " + pod.name()); }
      @Override public void offline(PodState pod) { reported.add("offline " + pod.name()); }
      @Override public void failing(PodState pod, String error) { reported.add("failing " + pod.name() + ": " + error); }
    };
  }
}
