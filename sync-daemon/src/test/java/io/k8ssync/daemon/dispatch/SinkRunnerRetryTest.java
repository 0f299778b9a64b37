package io.k8ssync.daemon.dispatch;

import static io.k8ssync.sink.PodStates.ready;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.daemon.testing.LogCapture;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** What a runner remembers of failed pods, and its retries once the daemon is stopping. */
class SinkRunnerRetryTest {

  /** Fails the first apply of each pod named in {@code failOnce}, retriably; records the rest. */
  private static final class FailingOnce implements Sink {
    final Set<String> failOnce = ConcurrentHashMap.newKeySet();
    final Set<String> applied = ConcurrentHashMap.newKeySet();
    final AtomicInteger failures = new AtomicInteger();
    volatile Runnable onFailure = () -> { };

    @Override
    public void apply(List<PodChange> changes) throws SinkException {
      for (PodChange c : changes) {
        if (failOnce.remove(c.after().name())) {
          failures.incrementAndGet();
          onFailure.run();
          throw SinkException.retriable("told to fail", null);
        }
      }
      changes.forEach(c -> applied.add(c.after().name()));
    }

    @Override
    public void close() {}
  }

  private static SinkRunner runner(Sink sink, ScheduledExecutorService timer) {
    return new SinkRunner("retry", sink, Selector.ALL,
        new SinkRunner.Settings(1, 1_000, 5, false, new RetryBackoff.Settings(Duration.ofMillis(1), Duration.ofMillis(5), 0, 1000, 1000)),
        timer, new DaemonMetrics(new PrometheusRegistry()));
  }

  private static PodChange added(String name) {
    PodState p = ready(name, "10.0.0.1");
    return PodChange.of(p.key(), null, p);
  }

  @Test
  void aFailedPodLeftToAnotherReplicaIsForgottenByTheBackoff() throws Exception {
    FailingOnce sink = new FailingOnce();
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    SinkRunner runner = runner(sink, timer);
    AtomicInteger leads = new AtomicInteger(1);
    runner.leadWhere(cluster -> leads.get() == 1);
    // The pod fails while its cluster is ours, and the cluster moves to another replica before the retry.
    sink.failOnce.add("web-1");
    sink.onFailure = () -> leads.set(0);
    runner.start();
    try {
      runner.offer(added("web-1"));
      await().atMost(Duration.ofSeconds(10)).until(() -> runner.queue().parkedCount() == 1);
      assertEquals(0, runner.backoffTracked(), "a parked pod starts afresh when its cluster comes back: nothing to remember");
      assertEquals(1, runner.queue().expireParked(0));
      assertEquals(0, runner.backoffTracked());
    } finally {
      runner.drain(Duration.ofSeconds(5));
      runner.stop();
      timer.shutdownNow();
    }
  }

  @Test
  void aRetryAfterTheTimerStoppedKeepsTheWorkerAndSaysSo() throws Exception {
    FailingOnce sink = new FailingOnce();
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    // As at shutdown: the daemon stopped the timer while an apply was still running, and it failed.
    timer.shutdownNow();
    SinkRunner runner = runner(sink, timer);
    sink.failOnce.add("web-1");
    runner.start();
    try (LogCapture log = LogCapture.of(SinkRunner.class)) {
      runner.offer(added("web-1"));
      await().atMost(Duration.ofSeconds(10)).until(() -> sink.failures.get() == 1);
      runner.offer(added("web-2"));
      await().atMost(Duration.ofSeconds(10)).until(() -> sink.applied.contains("web-2"));
      assertTrue(log.messages(Level.WARN).stream().anyMatch(m -> m.contains("retry not scheduled") && m.contains("web-1")),
          log.messages().toString());
    } finally {
      runner.drain(Duration.ZERO);
      runner.stop();
    }
  }
}
