package io.k8ssync.daemon.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Once the dispatcher has shut down and closed its sinks, nothing more reaches them. */
class DispatcherShutdownTest {

  private static final class Told implements Sink {
    final List<String> told = new CopyOnWriteArrayList<>();

    @Override public void apply(List<PodChange> batch) {}

    @Override public void leadershipChanged(String cluster, long term, boolean leading) {
      told.add("leadershipChanged(" + cluster + "," + term + "," + leading + ")");
    }

    @Override public void podsSynced() {
      told.add("podsSynced()");
    }

    @Override public void close() {
      told.add("close()");
    }
  }

  @Test
  void aLeaseReleasedAfterShutdownIsNotToldToClosedSinks() {
    DaemonMetrics metrics = new DaemonMetrics(new PrometheusRegistry());
    Dispatcher d = new Dispatcher(metrics);
    Told sink = new Told();
    d.add(new SinkRunner("told", sink, Selector.ALL,
        new SinkRunner.Settings(1, 1_000, 5, false, new RetryBackoff.Settings(Duration.ofMillis(1), Duration.ofMillis(5), 0, 1000, 1000)),
        d.timer(), metrics));
    d.start();
    d.leadershipChanged("c1", 1, true);
    d.shutdown(Duration.ofSeconds(1));
    // The daemon releases its Leases only after the queues drained and the sinks closed.
    d.leadershipChanged("c1", 1, false);
    d.podsSynced();

    assertEquals(List.of("leadershipChanged(c1,1,true)", "close()"), sink.told);
  }
}
