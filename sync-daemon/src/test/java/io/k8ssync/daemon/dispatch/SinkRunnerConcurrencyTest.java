package io.k8ssync.daemon.dispatch;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Several workers on one sink, fed many changes of few pods faster than they apply them: no pod
 * is ever applied by two workers at once, each pod's states arrive in order, and the last state
 * applied is the last one offered.
 */
class SinkRunnerConcurrencyTest {

  private static final int WORKERS = 4;
  private static final int PODS = 5;
  private static final int CHANGES = 20_000;

  /** Flags two applies of one pod at once, and a pod's versions going backwards. */
  private static final class OverlapDetector implements Sink {
    final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    final Map<String, Long> lastApplied = new ConcurrentHashMap<>();
    final AtomicBoolean overlap = new AtomicBoolean();
    final AtomicBoolean outOfOrder = new AtomicBoolean();
    /** The first apply waits here for a second one to start: proof that workers ran in parallel. */
    final CountDownLatch twoAtOnce = new CountDownLatch(2);

    @Override
    public int maxBatchSize() {
      return 2;
    }

    @Override
    public void apply(List<PodChange> batch) {
      for (PodChange c : batch) {
        if (inFlight.computeIfAbsent(c.key(), k -> new AtomicInteger()).incrementAndGet() > 1) {
          overlap.set(true);
        }
      }
      try {
        if (twoAtOnce.getCount() > 0) {
          twoAtOnce.countDown();
          twoAtOnce.await(30, TimeUnit.SECONDS);
        }
        // Widens the window in which a second worker on the same pod would be caught.
        for (int i = 0; i < 10; i++) {
          Thread.yield();
        }
        for (PodChange c : batch) {
          long version = Long.parseLong(c.after().resourceVersion());
          Long prior = lastApplied.put(c.key(), version);
          if (prior != null && prior >= version) {
            outOfOrder.set(true);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        for (PodChange c : batch) {
          inFlight.get(c.key()).decrementAndGet();
        }
      }
    }

    @Override
    public void close() {}
  }

  @Test
  void noPodIsAppliedByTwoWorkersAtOnceAndTheLastStateWins() throws Exception {
    OverlapDetector sink = new OverlapDetector();
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    SinkRunner runner = new SinkRunner("overlap", sink, Selector.ALL,
        new SinkRunner.Settings(WORKERS, 1_000_000, 5, false, RetryBackoff.Settings.DEFAULTS),
        timer, new DaemonMetrics(new PrometheusRegistry()));
    runner.start();
    try {
      PodState[] last = new PodState[PODS];
      Random random = new Random(7);
      // One producer, as one informer thread feeds the dispatcher; versions rise with each change.
      for (int v = 1; v <= CHANGES; v++) {
        int p = random.nextInt(PODS);
        PodState next = withVersion(ready("p" + p, "10.0.0." + (p + 1)), Integer.toString(v));
        runner.offer(PodChange.of(next.key(), last[p], next));
        last[p] = next;
      }

      await().atMost(Duration.ofSeconds(60)).until(() -> runner.queue().unfinished() == 0);

      assertEquals(0, sink.twoAtOnce.getCount(), "two workers applied at once, so an overlap could have shown");
      assertFalse(sink.overlap.get(), "a pod was applied by two workers at once");
      assertFalse(sink.outOfOrder.get(), "a pod's states were applied out of order");
      for (PodState p : last) {
        assertEquals(Long.valueOf(p.resourceVersion()), sink.lastApplied.get(p.key()),
            "the last state applied to " + p.key() + " is the last one offered");
      }
    } finally {
      runner.drain(Duration.ofSeconds(5));
      runner.stop();
      timer.shutdownNow();
    }
  }
}
