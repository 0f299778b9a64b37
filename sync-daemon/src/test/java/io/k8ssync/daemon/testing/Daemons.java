package io.k8ssync.daemon.testing;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.config.SinkTypes;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** Daemons as tests start and read them. */
public final class Daemons {

  private Daemons() {}

  /** Parses {@code yaml}, starts a daemon whose clusters use {@code clients}, and waits for the initial list. */
  public static Daemon synced(String yaml, Supplier<KubernetesClient> clients) throws Exception {
    return synced(yaml, spec -> clients.get());
  }

  /** As {@link #synced(String, Supplier)}, with each cluster's own client. */
  public static Daemon synced(String yaml, java.util.function.Function<DaemonConfig.ClusterSpec, KubernetesClient> clients)
      throws Exception {
    Daemon d = new Daemon(new ConfigLoader(SinkTypes.discover()).parse("test", yaml), SinkTypes.discover(), clients, false);
    d.start();
    d.synced().get(60, TimeUnit.SECONDS);
    return d;
  }

  /** The value of the gauge {@code name} without labels (or the sum over its series). */
  public static double gauge(Daemon d, String name) {
    return d.metrics().registry().scrape().stream()
        .filter(m -> m.getMetadata().getPrometheusName().equals(name))
        .flatMap(m -> m.getDataPoints().stream())
        .mapToDouble(p -> ((io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot) p).getValue())
        .sum();
  }

  /** The sum of the counter {@code name} (without _total) over the samples carrying {@code labels}. */
  public static double counter(Daemon d, String name, Map<String, String> labels) {
    return d.metrics().registry().scrape().stream()
        .filter(m -> m.getMetadata().getPrometheusName().equals(name))
        .flatMap(m -> m.getDataPoints().stream())
        .filter(p -> labels.entrySet().stream().allMatch(e -> e.getValue().equals(p.getLabels().get(e.getKey()))))
        .mapToDouble(p -> ((CounterSnapshot.CounterDataPointSnapshot) p).getValue())
        .sum();
  }
}
